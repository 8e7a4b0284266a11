"""moto's S3 server, one request at a time.

moto checks a conditional PUT (If-Match, If-None-Match: *) and then writes, with no lock
between, in a threaded server: two concurrent conditional writes of one key can both pass
the check, which S3 itself never allows. The publisher's protocol (docs/FORMAT.md, publishing)
relies on S3's atomic conditional writes, so tests/publish.rs serves moto's application through
this wrapper: the same application and HTTP server as `moto_server`, with each request handled
whole under one lock.

Usage: python moto_serial.py -H HOST -p PORT
"""

import argparse
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serial(environ, start_response):
        with lock:
            # The whole body is produced under the lock.
            return list(app(environ, start_response))

    run_simple(args.host, args.port, serial, threaded=True)


if __name__ == "__main__":
    main()
