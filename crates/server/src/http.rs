//! The HTTP handlers: thin. Each parses its request, calls the ledger (through the
//! sequencer for writes, under the shared lock in a blocking task for reads), and returns
//! JSON or bytes; every failure is an [`ApiError`], mapped to a status in one place.
//!
//! Read API (c2sp.org/tlog-tiles): `GET /checkpoint`, `GET /tile/<L>/<N>[.p/<W>]`,
//! `GET /tile/entries/<N>[.p/<W>]`. JSON API under `/api/v1/`. Operations: `/healthz`,
//! `/metrics`. docs/FORMAT.md "HTTP API" lists every path, status and shape.

use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_core::envelope::Envelope;
use accord_core::lifecycle::Status;
use accord_core::model::EntryId;
use accord_core::tiles::{self, TileId};
use accord_ledger::query::Filter;
use accord_ledger::Ledger;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::drain::Drain;
use crate::error::ApiError;
use crate::limits::{Peer, RateLimiter, MAX_BODY_BYTES};
use crate::metrics::Metrics;
use crate::pages;
use crate::sequencer::{lock, Handle, SharedLedger};
use crate::views;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The ledger (the sequencer writes it; handlers read it).
    pub ledger: SharedLedger,
    /// The sequencer's queue.
    pub seq: Handle,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Writes per source.
    pub limiter: Arc<RateLimiter>,
    /// Draining on shutdown, and the requests in flight.
    pub drain: Arc<Drain>,
    /// How long one request may take, its body included.
    pub request_timeout: Duration,
    /// Full tiles and entry bundles served so far.
    pub tiles: TileCache,
}

/// Bytes of full tiles and entry bundles kept in memory by [`TileCache`]: all the level-0
/// tiles of about 1M entries, or some 150 entry bundles.
pub const TILE_CACHE_BYTES: u64 = 32 * 1024 * 1024;

#[derive(Clone)]
struct ByLength;

impl quick_cache::Weighter<TileId, Bytes> for ByLength {
    fn weight(&self, _: &TileId, v: &Bytes) -> u64 {
        v.len() as u64
    }
}

/// Full tiles and entry bundles already served, answered again without the ledger: a full
/// tile never changes, and once in the published tree it stays there (the published size
/// only grows). Bounded by [`TILE_CACHE_BYTES`]; what is evicted is read again.
#[derive(Clone)]
pub struct TileCache(Arc<quick_cache::sync::Cache<TileId, Bytes, ByLength>>);

impl Default for TileCache {
    fn default() -> Self {
        Self(Arc::new(quick_cache::sync::Cache::with_weighter(
            8192,
            TILE_CACHE_BYTES,
            ByLength,
        )))
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Runs `f` on the ledger in a blocking task; a panic in it is an internal error. The
/// answer is returned once every entry `f` could have seen is durable (the sequencer syncs
/// groups after applying them), so no response names an entry a crash could take away.
async fn read<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&mut Ledger) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let ledger = st.ledger.clone();
    let (value, seen) = tokio::task::spawn_blocking(move || {
        let mut g = lock(&ledger)?;
        let value = f(&mut g)?;
        Ok::<_, ApiError>((value, g.size()))
    })
    .await
    .map_err(ApiError::internal)??;
    st.seq.durable_at(seen).await?;
    Ok(value)
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::BadRequest(format!("bad query: {}", e.body_text())))
}

fn body(b: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    b.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!(
                "request body larger than {MAX_BODY_BYTES} bytes, the limit for one envelope"
            ))
        } else {
            ApiError::BadRequest(format!("cannot read the request body: {}", e.body_text()))
        }
    })
}

fn limit(st: &AppState, peer: Option<&Peer>) -> ApiResult<()> {
    let Some(p) = peer else { return Ok(()) };
    st.limiter
        .check(p.0.ip())
        .map_err(|wait| ApiError::RateLimited {
            reason: format!(
                "too many writes from {}; try again in {} ms",
                p.0.ip(),
                wait.as_millis().max(1)
            ),
            retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        })
}

// ---- the request parsers, pure functions of the request's bytes (fuzzed in fuzz/) ------

/// Parses a `/tile/...` path (without the leading `/`): a hash tile or an entry bundle.
///
/// # Errors
/// [`ApiError::BadRequest`] naming what is wrong.
pub fn parse_tile_path(path: &str) -> ApiResult<TileId> {
    TileId::parse(path).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// Parses a submission body: one DSSE envelope, strict JSON (no duplicate members, UTF-8).
///
/// # Errors
/// [`ApiError::BadRequest`].
pub fn parse_envelope(body: &[u8]) -> ApiResult<Envelope> {
    Envelope::from_json(body)
        .map_err(|e| ApiError::BadRequest(format!("not a valid DSSE envelope: {e}")))
}

/// Parses a query string (`a=1&b=2`, without the `?`) into `T`.
fn parse_query_string<T: serde::de::DeserializeOwned>(q: &str) -> ApiResult<T> {
    let uri: Uri = format!("/?{q}")
        .parse()
        .map_err(|e| ApiError::BadRequest(format!("bad query: {e}")))?;
    Query::<T>::try_from_uri(&uri)
        .map(|Query(t)| t)
        .map_err(|e| ApiError::BadRequest(format!("bad query: {}", e.body_text())))
}

/// Parses the query of `GET /api/v1/commitments` and `/api/v1/bundle` into a filter.
///
/// # Errors
/// [`ApiError::BadRequest`] naming the parameter.
pub fn parse_filter_query(q: &str) -> ApiResult<Filter> {
    parse_query_string::<FilterQuery>(q)?.filter()
}

/// Parses the query of `GET /api/v1/proof/inclusion`: (index, size).
///
/// # Errors
/// [`ApiError::BadRequest`].
pub fn parse_inclusion_query(q: &str) -> ApiResult<(u64, Option<u64>)> {
    parse_query_string::<InclusionQuery>(q).map(|q| (q.index, q.size))
}

/// Parses the query of `GET /api/v1/proof/consistency`: (from, to).
///
/// # Errors
/// [`ApiError::BadRequest`].
pub fn parse_consistency_query(q: &str) -> ApiResult<(u64, Option<u64>)> {
    parse_query_string::<ConsistencyQuery>(q).map(|q| (q.from, q.to))
}

/// Parses the query of `GET /api/v1/entries`: (from, limit).
///
/// # Errors
/// [`ApiError::BadRequest`].
pub fn parse_list_query(q: &str) -> ApiResult<(Option<u64>, Option<u64>)> {
    parse_query_string::<ListQuery>(q).map(|q| (q.from, q.limit))
}

/// Parses an `as_of=YYYY-MM-DD` query (summary, one commitment).
///
/// # Errors
/// [`ApiError::BadRequest`].
pub fn parse_as_of_query(q: &str) -> ApiResult<time::Date> {
    as_of(&parse_query_string::<AsOf>(q)?)
}

/// Parses a `POST /api/v1/cosignatures` body: (the checkpoint text cosigned, the
/// `cosignature/v1` line).
///
/// # Errors
/// [`ApiError::BadRequest`].
pub fn parse_cosignature_body(body: &[u8]) -> ApiResult<(String, String)> {
    let req: CosignatureBody = accord_core::json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "expected {{\"checkpoint\": NOTE, \"cosignature\": LINE}}: {e}"
        ))
    })?;
    let text = match req.checkpoint.split_once("\n\n") {
        Some((t, _)) => format!("{t}\n"),
        None => req.checkpoint.clone(),
    };
    Ok((text, req.cosignature))
}

fn bytes_response(
    content_type: &'static str,
    cache: &'static str,
    bytes: impl Into<Bytes>,
) -> Response {
    let bytes: Bytes = bytes.into();
    let mut res = Response::new(Body::from(bytes));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    res
}

fn json_response(status: StatusCode, v: Value) -> Response {
    let mut res = (status, Json(v)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// The latest checkpoint's tree size: what the tile endpoints publish.
fn published_size(l: &Ledger) -> ApiResult<u64> {
    Ok(l.latest_checkpoint()?
        .map(|c| c.note.checkpoint().size())
        .unwrap_or(0))
}

/// `GET /checkpoint`: the latest checkpoint note, the log's signature and every
/// cosignature.
async fn checkpoint(State(st): State<AppState>) -> ApiResult<Response> {
    let note = read(&st, |l| {
        l.latest_checkpoint()?
            .map(|c| c.note.to_bytes())
            .ok_or_else(|| ApiError::NotFound("no checkpoint has been signed yet".into()))
    })
    .await?;
    Ok(bytes_response(
        "text/plain; charset=utf-8",
        "no-cache",
        note,
    ))
}

/// `GET /tile/...`: a hash tile or entry bundle of the published tree.
async fn tile(State(st): State<AppState>, uri: Uri) -> ApiResult<Response> {
    let id = parse_tile_path(uri.path().trim_start_matches('/'))?;
    const IMMUTABLE: &str = "public, max-age=31536000, immutable";
    if let Some(bytes) = st.tiles.0.get(&id) {
        return Ok(bytes_response("application/octet-stream", IMMUTABLE, bytes));
    }
    let bytes = read(&st, move |l| {
        let size = published_size(l)?;
        let published =
            tiles::tile_at_size(id.kind, id.n, size).is_some_and(|w| w.width >= id.width);
        if !published {
            return Err(ApiError::NotFound(format!(
                "{id} is not in the published tree (size {size})"
            )));
        }
        Ok(l.read_tile(id)?)
    })
    .await?;
    let bytes = Bytes::from(bytes);
    let cache = if id.is_full() {
        st.tiles.0.insert(id, bytes.clone());
        IMMUTABLE
    } else {
        "no-cache"
    };
    Ok(bytes_response("application/octet-stream", cache, bytes))
}

/// `POST /api/v1/entries`: a signed DSSE envelope; 201 once durable.
async fn submit(
    State(st): State<AppState>,
    peer: Option<axum::Extension<Peer>>,
    b: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let outcome = async {
        limit(&st, peer.as_deref())?;
        let b = body(b)?;
        let env = parse_envelope(&b)?;
        st.seq.submit(env).await
    }
    .await;
    match &outcome {
        Ok(_) => st.metrics.accepted(),
        Err(ApiError::Refused { class, .. }) => st.metrics.refused(class),
        Err(ApiError::Duplicate(_)) => st.metrics.refused("duplicate_id"),
        Err(ApiError::BadRequest(_)) => st.metrics.refused("unparsable"),
        Err(ApiError::TooLarge(_)) => st.metrics.refused("too_large"),
        Err(ApiError::RateLimited { .. }) => st.metrics.refused("rate_limited"),
        Err(ApiError::NoSpace(_)) => st.metrics.refused("no_space"),
        Err(_) => st.metrics.refused("unavailable"),
    }
    let v = outcome?;
    let mut res = json_response(StatusCode::CREATED, v.clone());
    if let Some(i) = v.get("index").and_then(Value::as_u64) {
        if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/entries/{i}")) {
            res.headers_mut().insert(header::LOCATION, loc);
        }
    }
    Ok(res)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    from: Option<u64>,
    limit: Option<u64>,
}

/// The most entries one `GET /api/v1/entries` returns.
pub const PAGE: u64 = 1000;

/// `GET /api/v1/entries?from=&limit=`: list lines, at most [`PAGE`].
async fn list(
    State(st): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let from = q.from.unwrap_or(0);
    let n = q.limit.unwrap_or(PAGE).min(PAGE) as usize;
    let v = read(&st, move |l| {
        let mut out = Vec::new();
        for e in l.entries(from).take(n) {
            out.push(views::entry_line(&e?));
        }
        Ok(Value::Array(out))
    })
    .await?;
    Ok(json_response(StatusCode::OK, v))
}

fn entry_id(s: &str) -> ApiResult<EntryId> {
    EntryId::parse(s).map_err(|e| ApiError::BadRequest(format!("{s:?}: {e}")))
}

/// `GET /api/v1/entries/{index or id}`: one entry in full.
async fn entry(State(st): State<AppState>, uri: Uri) -> ApiResult<Response> {
    let which = uri
        .path()
        .strip_prefix("/api/v1/entries/")
        .unwrap_or_default()
        .to_owned();
    let v = read(&st, move |l| {
        let e = match which.parse::<u64>() {
            Ok(i) => l.entry(i)?,
            Err(_) => {
                let id = EntryId::parse(&which).map_err(|e| {
                    ApiError::BadRequest(format!(
                        "{which:?} is neither an index nor an entry id: {e}"
                    ))
                })?;
                l.entry_by_id(&id)?
            }
        };
        Ok(views::entry_object(&e))
    })
    .await?;
    Ok(json_response(StatusCode::OK, v))
}

/// Filters on commitments, as query parameters named like the CLI's flags.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FilterQuery {
    member: Option<String>,
    country: Option<String>,
    kind: Option<String>,
    commodity: Option<String>,
    status: Option<String>,
    since: Option<String>,
    until: Option<String>,
    as_of: Option<String>,
    commitment: Option<String>,
}

fn day(name: &str, s: &str) -> ApiResult<time::Date> {
    accord_core::model::Date::parse(s)
        .map(|d| d.date())
        .map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))
}

impl FilterQuery {
    fn everything(&self) -> bool {
        self.member.is_none()
            && self.country.is_none()
            && self.kind.is_none()
            && self.commodity.is_none()
            && self.status.is_none()
            && self.since.is_none()
            && self.until.is_none()
            && self.commitment.is_none()
    }

    fn filter(&self) -> ApiResult<Filter> {
        let status = match &self.status {
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "status {s:?}: expected active, amended, expired, pending or withdrawn"
                ))
            })?),
            None => None,
        };
        let kind = match &self.kind {
            Some(k) => Some(
                accord_core::figures::parse_kind(k)
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "kind {k:?}: expected one of {}",
                            accord_core::model::commitment::MEASURE_KINDS.join(", ")
                        ))
                    })?
                    .to_owned(),
            ),
            None => None,
        };
        Ok(Filter {
            member: self.member.clone(),
            country: self.country.clone(),
            kind,
            commodity: self.commodity.clone(),
            status,
            from: self.since.as_deref().map(|s| day("since", s)).transpose()?,
            to: self.until.as_deref().map(|s| day("until", s)).transpose()?,
            as_of: self.as_of.as_deref().map(|s| day("as_of", s)).transpose()?,
            commitment: self.commitment.clone(),
        })
    }
}

/// `GET /api/v1/commitments?...`: commitments with their status.
async fn commitments(
    State(st): State<AppState>,
    q: Result<Query<FilterQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let f = query(q)?.filter()?;
    let v = read(&st, move |l| {
        let day = f.day();
        let views = l.commitments(&f)?;
        Ok(Value::Array(
            views.iter().map(|v| views::commitment(v, day)).collect(),
        ))
    })
    .await?;
    Ok(json_response(StatusCode::OK, v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AsOf {
    as_of: Option<String>,
}

fn as_of(a: &AsOf) -> ApiResult<time::Date> {
    match &a.as_of {
        Some(s) => day("as_of", s),
        None => Ok(time::OffsetDateTime::now_utc().date()),
    }
}

/// `GET /api/v1/commitments/{id}`: current terms and state, and the history.
async fn commitment(
    State(st): State<AppState>,
    uri: Uri,
    q: Result<Query<AsOf>, QueryRejection>,
) -> ApiResult<Response> {
    let on = as_of(&query(q)?)?;
    let id = entry_id(
        uri.path()
            .strip_prefix("/api/v1/commitments/")
            .unwrap_or_default(),
    )?;
    let v = read(&st, move |l| {
        let view = l.commitment(&id)?;
        let history = l.history(&id)?;
        Ok(json!({"commitment": views::commitment(&view, on),
            "history": history.iter().map(views::entry_object).collect::<Vec<_>>()}))
    })
    .await?;
    Ok(json_response(StatusCode::OK, v))
}

/// `GET /api/v1/summary?as_of=`.
async fn summary(
    State(st): State<AppState>,
    q: Result<Query<AsOf>, QueryRejection>,
) -> ApiResult<Response> {
    let on = as_of(&query(q)?)?;
    let v = read(&st, move |l| {
        let s = l.summary(on)?;
        serde_json::to_value(&s).map_err(ApiError::internal)
    })
    .await?;
    Ok(json_response(StatusCode::OK, v))
}

/// `GET /api/v1/governance`: the governance entries after the charter, in full.
async fn governance(State(st): State<AppState>) -> ApiResult<Response> {
    let v = read(&st, |l| {
        Ok(Value::Array(
            l.governance_entries()?
                .iter()
                .map(views::entry_object)
                .collect(),
        ))
    })
    .await?;
    Ok(json_response(StatusCode::OK, v))
}

// ---- the pages (crate::pages) --------------------------------------------------------------

/// Pages are whole documents that load nothing from elsewhere; the policy says so to the
/// browser, so an injected reference could not load either.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
    form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn html_response(html: String) -> Response {
    let mut res = (StatusCode::OK, html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    res
}

fn site(l: &mut Ledger, on: time::Date) -> ApiResult<pages::Site> {
    Ok(pages::Site::from_ledger(l, on)?)
}

/// `GET /?as_of=`: the overview.
async fn page_overview(
    State(st): State<AppState>,
    q: Result<Query<AsOf>, QueryRejection>,
) -> ApiResult<Response> {
    let on = as_of(&query(q)?)?;
    let html = read(&st, move |l| Ok(pages::overview(&site(l, on)?))).await?;
    Ok(html_response(html))
}

/// The commitments page's form: empty fields ("any") do not filter.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PageFilter {
    country: Option<String>,
    kind: Option<String>,
    commodity: Option<String>,
    status: Option<String>,
    as_of: Option<String>,
}

/// `GET /commitments?country=&kind=&commodity=&status=&as_of=`: the table, filtered by
/// the ledger's query (as `accord status` is).
async fn page_commitments(
    State(st): State<AppState>,
    q: Result<Query<PageFilter>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let some = |o: &Option<String>| o.clone().filter(|s| !s.trim().is_empty());
    let fq = FilterQuery {
        country: some(&q.country),
        kind: some(&q.kind),
        commodity: some(&q.commodity),
        status: some(&q.status),
        as_of: some(&q.as_of),
        ..FilterQuery::default()
    };
    let f = fq.filter()?;
    let shown = pages::TableFilter {
        country: fq.country.clone(),
        kind: f.kind.clone(),
        commodity: fq.commodity.clone(),
        status: fq.status.clone(),
    };
    let html = read(&st, move |l| {
        let day = f.day();
        let site = site(l, day)?;
        let list: Vec<Value> = l
            .commitments(&f)?
            .iter()
            .map(|v| views::commitment(v, day))
            .collect();
        Ok(pages::commitments(&site, &list, &shown))
    })
    .await?;
    Ok(html_response(html))
}

/// `GET /commitments/{id}?as_of=`: one commitment.
async fn page_commitment(
    State(st): State<AppState>,
    uri: Uri,
    q: Result<Query<AsOf>, QueryRejection>,
) -> ApiResult<Response> {
    let on = as_of(&query(q)?)?;
    let raw = uri
        .path()
        .strip_prefix("/commitments/")
        .unwrap_or_default()
        .to_owned();
    let decoded = percent_decode(&raw)?;
    let id = entry_id(&decoded)?;
    let html = read(&st, move |l| {
        let site = pages::Site::head_from_ledger(l, on)?;
        let view = views::commitment(&l.commitment(&id)?, on);
        let page = pages::CommitmentPage::from_ledger(l, view, site.checkpoint_size())?;
        Ok(pages::commitment(&site, &page))
    })
    .await?;
    Ok(html_response(html))
}

/// A URL path segment with its `%XX` escapes decoded; anything that is not UTF-8 is 400.
fn percent_decode(s: &str) -> ApiResult<String> {
    let bad = || ApiError::BadRequest(format!("{s:?}: not a percent-encoded path"));
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// `GET /members`: members and key history.
async fn page_members(State(st): State<AppState>) -> ApiResult<Response> {
    let on = time::OffsetDateTime::now_utc().date();
    let html = read(&st, move |l| {
        Ok(pages::members(&pages::Site::head_from_ledger(l, on)?))
    })
    .await?;
    Ok(html_response(html))
}

/// `GET /trust`: the trust panel.
async fn page_trust(State(st): State<AppState>) -> ApiResult<Response> {
    let on = time::OffsetDateTime::now_utc().date();
    let html = read(&st, move |l| {
        Ok(pages::trust(&pages::Site::head_from_ledger(l, on)?))
    })
    .await?;
    Ok(html_response(html))
}

/// `GET /api/v1/members`.
async fn members(State(st): State<AppState>) -> ApiResult<Response> {
    let v = read(&st, |l| Ok(Value::Array(views::members(l.governance()?)))).await?;
    Ok(json_response(StatusCode::OK, v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionQuery {
    index: u64,
    size: Option<u64>,
}

/// `GET /api/v1/proof/inclusion?index=&size=`.
async fn inclusion(
    State(st): State<AppState>,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let v = read(&st, move |l| {
        Ok(views::inclusion(&l.inclusion_proof(q.index, q.size)?))
    })
    .await?;
    Ok(json_response(StatusCode::OK, v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    from: u64,
    to: Option<u64>,
}

/// `GET /api/v1/proof/consistency?from=&to=`.
async fn consistency(
    State(st): State<AppState>,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let v = read(&st, move |l| {
        Ok(views::consistency(&l.consistency_proof(q.from, q.to)?))
    })
    .await?;
    Ok(json_response(StatusCode::OK, v))
}

/// `GET /api/v1/bundle?commitment=ID` (or filters): an audit bundle against the latest
/// checkpoint.
async fn bundle(
    State(st): State<AppState>,
    q: Result<Query<FilterQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let f = q.filter()?;
    let everything = q.everything();
    let commitment = q.commitment.as_deref().map(entry_id).transpose()?;
    let bytes = read(&st, move |l| {
        if let Some(id) = &commitment {
            match l.commitment(id) {
                Err(accord_ledger::LedgerError::NotFound(_)) => {
                    return Err(ApiError::NotFound(format!(
                        "no commitment {id} in the ledger"
                    )))
                }
                r => {
                    r?;
                }
            }
        }
        let selected = l.select(&f, everything)?;
        Ok(l.export_bundle(&selected)?.to_json())
    })
    .await?;
    Ok(bytes_response("application/json", "no-cache", bytes))
}

/// `GET /api/v1/checkpoint`: the latest checkpoint as `accord checkpoint --json` prints it.
async fn checkpoint_json(State(st): State<AppState>) -> ApiResult<Response> {
    let v = read(&st, |l| {
        let c = l.latest_checkpoint()?;
        let state = l.governance()?;
        c.map(|c| views::checkpoint_with_policy(&c, state))
            .ok_or_else(|| ApiError::NotFound("no checkpoint has been signed yet".into()))
    })
    .await?;
    Ok(json_response(StatusCode::OK, v))
}

/// `GET /api/v1/log-key`.
async fn log_key(State(st): State<AppState>) -> ApiResult<Response> {
    let v = read(&st, |l| Ok(views::log_key(l.origin(), l.log_key()))).await?;
    Ok(json_response(StatusCode::OK, v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CosignatureBody {
    /// The checkpoint cosigned: its body, or the note as served.
    checkpoint: String,
    /// The `cosignature/v1` line.
    cosignature: String,
}

/// `POST /api/v1/cosignatures`: a member's cosignature line on a checkpoint the log signed.
async fn cosign(
    State(st): State<AppState>,
    peer: Option<axum::Extension<Peer>>,
    b: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    limit(&st, peer.as_deref())?;
    let b = body(b)?;
    let (text, line) = parse_cosignature_body(&b)?;
    let v = read(&st, move |l| {
        let all = l.checkpoints()?;
        let seq = all
            .iter()
            .rev()
            .find(|c| c.note.text() == text.as_bytes())
            .map(|c| c.seq)
            .ok_or_else(|| ApiError::NotFound("the log never signed that checkpoint".into()))?;
        let cp = l.add_cosignature_line(seq, line.as_bytes())?;
        Ok(views::cosigned(&cp))
    })
    .await?;
    st.metrics.cosignature();
    Ok(json_response(StatusCode::CREATED, v))
}

async fn healthz(State(st): State<AppState>) -> ApiResult<Response> {
    let v = read(&st, |l| Ok(json!({"status": "ok", "entries": l.size()}))).await?;
    Ok(json_response(StatusCode::OK, v))
}

async fn metrics(State(st): State<AppState>) -> Response {
    bytes_response(
        "text/plain; version=0.0.4; charset=utf-8",
        "no-cache",
        st.metrics.render().into_bytes(),
    )
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no such path {}", uri.path()))
}

/// Records each request's latency and status, and turns every error response that is not
/// already JSON (a body limit, a timeout, a panic caught, a wrong method) into the API's
/// `{"error": reason}`.
async fn observe(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let res = if status.is_client_error() || status.is_server_error() {
        if is_json {
            res
        } else {
            let e = match status {
                StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::TooLarge(format!("request body larger than {MAX_BODY_BYTES} bytes"))
                }
                StatusCode::METHOD_NOT_ALLOWED => {
                    ApiError::NotFound(format!("{method} is not allowed here"))
                }
                StatusCode::REQUEST_TIMEOUT => ApiError::Unavailable(format!(
                    "the request (its body included) took longer than {} s",
                    st.request_timeout.as_secs_f64()
                )),
                s if s.is_client_error() => ApiError::BadRequest(format!("bad request ({s})")),
                _ => ApiError::Internal("internal error".into()),
            };
            let mut out = e.into_response();
            *out.status_mut() = status;
            out
        }
    } else {
        res
    };
    st.metrics
        .request(&route, status.as_u16(), started.elapsed());
    res
}

/// Admits a request: while draining, 503 with `Connection: close`; a declared body over
/// the limit, 413 before any of it is read; otherwise counted in flight until answered.
async fn admit(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let http1 = req.version() <= axum::http::Version::HTTP_11;
    let Some(in_flight) = st.drain.enter() else {
        let mut res =
            ApiError::Unavailable("the service is shutting down; try again shortly".into())
                .into_response();
        if http1 {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        return res;
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        let mut res = ApiError::TooLarge(format!(
            "request body of {} bytes is larger than {MAX_BODY_BYTES} bytes, the limit for one envelope",
            declared.unwrap_or_default()
        ))
        .into_response();
        if http1 {
            // The body is not read: the connection cannot be reused.
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        return res;
    }
    let mut res = next.run(req).await;
    drop(in_flight);
    if http1 && st.drain.is_draining() {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// The service's routes and layers.
pub fn router(st: AppState) -> Router {
    use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
    let compress = tower_http::compression::CompressionLayer::new().compress_when(
        DefaultPredicate::new().and(NotForContentType::const_new("application/octet-stream")),
    );
    Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route("/api/v1/entries", post(submit).get(list))
        .route("/api/v1/entries/{*which}", get(entry))
        .route("/api/v1/commitments", get(commitments))
        .route("/api/v1/commitments/{*id}", get(commitment))
        .route("/api/v1/summary", get(summary))
        .route("/api/v1/members", get(members))
        .route("/api/v1/governance", get(governance))
        .route("/", get(page_overview))
        .route("/commitments", get(page_commitments))
        .route("/commitments/{*id}", get(page_commitment))
        .route("/members", get(page_members))
        .route("/trust", get(page_trust))
        .route("/api/v1/proof/inclusion", get(inclusion))
        .route("/api/v1/proof/consistency", get(consistency))
        .route("/api/v1/bundle", get(bundle))
        .route("/api/v1/checkpoint", get(checkpoint_json))
        .route("/api/v1/log-key", get(log_key))
        .route("/api/v1/cosignatures", post(cosign))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(compress)
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            st.request_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(st.clone(), admit))
        .layer(axum::middleware::from_fn_with_state(st.clone(), observe))
        .with_state(st)
}
