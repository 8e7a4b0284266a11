//! The API's one error type, and the one place a library error becomes an HTTP status. Every
//! error is `{"error": reason}` with a reason a person can act on; store failures and
//! corruption are logged on stderr and answered with a 500 that says no more than that.

use accord_core::governance::Rejection;
use accord_ledger::LedgerError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// What went wrong with a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request does not parse (400).
    #[error("{0}")]
    BadRequest(String),
    /// No such thing (404).
    #[error("{0}")]
    NotFound(String),
    /// A second entry with an id already in the ledger (409).
    #[error("{0}")]
    Duplicate(String),
    /// The body is larger than the limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// Well-formed, but refused: governance, signatures, a cosignature that does not
    /// verify (422).
    #[error("{reason}")]
    Refused {
        /// A short class of reason for the metrics (`unknown_signer`, `bad_signature`...).
        class: String,
        /// The reason.
        reason: String,
    },
    /// Too many requests from this source (429, with `Retry-After`).
    #[error("{reason}")]
    RateLimited {
        /// Why, for a person.
        reason: String,
        /// Whole seconds until the next write is allowed.
        retry_after: u64,
    },
    /// The disk holding the ledger is full (507): nothing was appended; the ledger stays
    /// readable, and appending resumes when space is freed.
    #[error("{0}")]
    NoSpace(String),
    /// The service is shutting down or its queue is full (503).
    #[error("{0}")]
    Unavailable(String),
    /// Something failed on the server's side (500).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Duplicate(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NoSpace(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A refusal with its class.
    pub fn refused(class: &str, reason: impl Into<String>) -> Self {
        ApiError::Refused {
            class: class.to_owned(),
            reason: reason.into(),
        }
    }

    /// A server-side failure: logged in full, answered briefly.
    pub fn internal(what: impl std::fmt::Display) -> Self {
        eprintln!("accord serve: internal error: {what}");
        ApiError::Internal(format!("internal error: {what}"))
    }
}

/// The metrics label of a rejection: its variant name in snake case (`DuplicateId` is
/// `duplicate_id`), a small fixed set.
pub fn rejection_class(r: &Rejection) -> String {
    let debug = format!("{r:?}");
    let name = debug
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or("other");
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether a store or I/O error's message says the disk (or the process's file-size or
/// quota limit) is full: ENOSPC, EFBIG, EDQUOT. sled passes I/O errors on as text.
pub fn no_space(message: &str) -> bool {
    [
        "os error 28)",
        "os error 27)",
        "os error 122)",
        "No space left on device",
        "File too large",
        "Disk quota exceeded",
        "StorageFull",
        "FileTooLarge",
    ]
    .iter()
    .any(|m| message.contains(m))
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Rejected(r @ Rejection::DuplicateId(_)) => {
                ApiError::Duplicate(format!("rejected: {r}"))
            }
            LedgerError::Rejected(r) => {
                ApiError::refused(&rejection_class(&r), format!("rejected: {r}"))
            }
            LedgerError::Cosign(why) => {
                ApiError::refused("cosignature", format!("cannot cosign: {why}"))
            }
            LedgerError::WrongLogKey { .. } => ApiError::refused("log_key", e.to_string()),
            e @ LedgerError::NotFound(_) => ApiError::NotFound(e.to_string()),
            e @ LedgerError::OutOfRange(_) => ApiError::BadRequest(e.to_string()),
            e @ LedgerError::InUse(_) => ApiError::Unavailable(e.to_string()),
            e if no_space(&e.to_string()) => {
                eprintln!("accord serve: the disk is full: {e}");
                ApiError::NoSpace(format!(
                    "the disk holding the ledger is full ({e}); the ledger stays readable; \
                     the service must be restarted once space is freed, and a resubmission \
                     then gets 201, or 409 if this one was kept"
                ))
            }
            e => ApiError::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry = match &self {
            ApiError::RateLimited { retry_after, .. } => Some((*retry_after).max(1)),
            ApiError::Unavailable(_) => Some(1),
            _ => None,
        };
        let mut res = (status, axum::Json(json!({"error": self.to_string()}))).into_response();
        if let Some(secs) = retry {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }
}
