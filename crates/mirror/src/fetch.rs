//! Reading a log's C2SP tlog-tiles endpoints over HTTP(S), under the URL's path as a prefix
//! (`https://host/bucket/prefix` reads `https://host/bucket/prefix/checkpoint`). Every body is
//! read whole with a size limit; a status other than 200, a connection closed early, a body
//! shorter than its `Content-Length` or a timeout is a [`MirrorError::Fetch`] naming the URL.

use std::io::Read as _;
use std::time::Duration;

use accord_core::tiles::TileId;

use crate::MirrorError;

/// The largest body read: a full entry bundle of 256 leaves of at most 64 KiB each.
pub const MAX_BODY: u64 = 256 * (2 + 65_535);

/// A log's read endpoints at a base URL.
pub struct Source {
    base: String,
    http: reqwest::blocking::Client,
}

impl Source {
    /// A source at `url` (`http://` or `https://`; a trailing `/` is ignored), with
    /// `timeout` for each request.
    ///
    /// # Errors
    /// [`MirrorError::Fetch`] for a URL that is not http(s) or a client that cannot be built.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, MirrorError> {
        let base = url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| MirrorError::Fetch(format!("--from {url:?}: not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
            return Err(MirrorError::Fetch(format!(
                "--from {url:?}: expected an http:// or https:// URL without a query"
            )));
        }
        let http = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("accord-mirror/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| MirrorError::Fetch(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Self { base, http })
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// GET `path` (starting with `/`) under the base URL, the whole body.
    ///
    /// # Errors
    /// [`MirrorError::Fetch`].
    pub fn get(&self, path: &str) -> Result<Vec<u8>, MirrorError> {
        let url = format!("{}{path}", self.base);
        let res = self
            .http
            .get(&url)
            .send()
            .map_err(|e| MirrorError::Fetch(format!("cannot fetch {url}: {}", chain(&e))))?;
        let status = res.status();
        if status != reqwest::StatusCode::OK {
            return Err(MirrorError::Fetch(format!("{url} answered {status}")));
        }
        let declared = res.content_length();
        if declared.is_some_and(|l| l > MAX_BODY) {
            return Err(MirrorError::Fetch(format!(
                "{url} answered with more than {MAX_BODY} bytes"
            )));
        }
        let mut body = Vec::new();
        res.take(MAX_BODY + 1).read_to_end(&mut body).map_err(|e| {
            MirrorError::Fetch(format!("{url}: the answer was cut short: {}", chain(&e)))
        })?;
        if body.len() as u64 > MAX_BODY {
            return Err(MirrorError::Fetch(format!(
                "{url} answered with more than {MAX_BODY} bytes"
            )));
        }
        if let Some(l) = declared {
            if body.len() as u64 != l {
                return Err(MirrorError::Fetch(format!(
                    "{url}: the answer was cut short ({} of {l} bytes)",
                    body.len()
                )));
            }
        }
        Ok(body)
    }

    /// GET a tile or entry bundle by its C2SP path.
    ///
    /// # Errors
    /// [`MirrorError::Fetch`].
    pub fn tile(&self, id: TileId) -> Result<Vec<u8>, MirrorError> {
        self.get(&format!("/{id}"))
    }
}

/// An error with its causes on one line (reqwest keeps the reason in its sources).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}
