//! The CLI as a client of `accord serve`: a blocking HTTP(S) client (reqwest on rustls;
//! the system's roots, plus `--ca-cert` for a private CA). The server's `{"error": reason}`
//! becomes the command's error with the same exit code as on a directory: a refusal (422,
//! 409) is a verdict (exit 1), anything else an input or usage error (exit 2).

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use reqwest::blocking::{Client, Response};
use reqwest::StatusCode;
use serde_json::Value;

use crate::commands::{read_file, MAX_SMALL_FILE};
use crate::Verdict;

/// The largest response read (an audit bundle can be large).
const MAX_RESPONSE: u64 = crate::commands::MAX_INPUT;

/// A server at a base URL.
pub struct Remote {
    base: String,
    http: Client,
}

impl Remote {
    /// A client for `url` (`http://` or `https://`), trusting the system's roots and the
    /// PEM certificates in `ca_cert`.
    ///
    /// # Errors
    /// A URL that is not http(s), an unreadable CA file.
    pub fn new(url: &str, ca_cert: Option<&Path>) -> Result<Self> {
        let base = url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("--server {url:?}: expected an http:// or https:// URL");
        }
        let mut b = Client::builder()
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("accord/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_cert {
            let pem = read_file(path, MAX_SMALL_FILE)?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("--ca-cert {}: not PEM certificates", path.display()))?;
            if certs.is_empty() {
                bail!("--ca-cert {}: no PEM certificate in it", path.display());
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let http = b.build().context("cannot set up the HTTP client")?;
        Ok(Self { base, http })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn finish(&self, path: &str, res: reqwest::Result<Response>) -> Result<Vec<u8>> {
        let res = res.map_err(|e| anyhow!("cannot reach {}: {}", self.url(path), chain(&e)))?;
        let status = res.status();
        if let Some(len) = res.content_length() {
            if len > MAX_RESPONSE {
                bail!(
                    "{} answered with {len} bytes, more than {MAX_RESPONSE}",
                    self.url(path)
                );
            }
        }
        let mut body = Vec::new();
        use std::io::Read as _;
        res.take(MAX_RESPONSE + 1)
            .read_to_end(&mut body)
            .with_context(|| format!("cannot read the answer of {}", self.url(path)))?;
        if status.is_success() {
            return Ok(body);
        }
        let reason = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| format!("{} answered {status}", self.url(path)));
        if status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::CONFLICT {
            Err(Verdict(reason).into())
        } else {
            Err(anyhow!(reason))
        }
    }

    /// GET, the body.
    ///
    /// # Errors
    /// Transport errors and error answers.
    pub fn get(&self, path: &str) -> Result<Vec<u8>> {
        self.finish(path, self.http.get(self.url(path)).send())
    }

    /// GET, as JSON.
    ///
    /// # Errors
    /// As [`Remote::get`], and a body that is not JSON.
    pub fn get_json(&self, path: &str) -> Result<Value> {
        let b = self.get(path)?;
        serde_json::from_slice(&b)
            .with_context(|| format!("{} did not answer JSON", self.url(path)))
    }

    /// POST a JSON body, the JSON answer.
    ///
    /// # Errors
    /// As [`Remote::get_json`].
    pub fn post_json(&self, path: &str, body: Vec<u8>) -> Result<Value> {
        let b = self.finish(
            path,
            self.http
                .post(self.url(path))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send(),
        )?;
        serde_json::from_slice(&b)
            .with_context(|| format!("{} did not answer JSON", self.url(path)))
    }
}

/// An error with its causes, on one line (reqwest hides the TLS or connection reason in
/// its sources).
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

/// Percent-encodes a query value or path segment (RFC 3986 unreserved characters kept).
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string from the pairs that are set.
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", enc(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}
