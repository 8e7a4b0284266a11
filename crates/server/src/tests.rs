//! The many small cases, in process: the router driven by `tower::ServiceExt::oneshot` over
//! an in-memory ledger, with the real sequencer behind it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use accord_ledger::synth::Synth;
use accord_ledger::Ledger;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

struct Harness {
    app: Router,
    synth: Synth,
    _seq: crate::sequencer::Sequencer,
}

fn harness(entries: usize) -> Harness {
    let mut synth = Synth::new(4, 7);
    let mut ledger = Ledger::create_in_memory(&synth.charter()).unwrap();
    for _ in 0..entries {
        ledger.append(&synth.next_entry()).unwrap();
    }
    let key = accord_core::keys::KeyPair::from_skey(&synth.log.to_skey()).unwrap();
    let (state, seq) = crate::start(ledger, key, Duration::from_millis(50), (0.0, 1.0));
    Harness {
        app: crate::router(state),
        synth,
        _seq: seq,
    }
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

async fn get(app: &Router, path: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    call(app, Request::get(path).body(Body::empty()).unwrap()).await
}

async fn post(app: &Router, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let (s, _, b) = call(
        app,
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

fn error_of(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).expect("error bodies are JSON");
    v["error"].as_str().expect("an error member").to_owned()
}

#[tokio::test]
async fn checkpoint_is_signed_at_start_and_served_as_text() {
    let h = harness(3);
    let (s, headers, body) = get(&h.app, "/checkpoint").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    let note = accord_core::checkpoint::SignedCheckpoint::from_bytes(&body).unwrap();
    assert_eq!(note.checkpoint().size(), 4);
    let log = h.synth.log.verifier().unwrap();
    note.verify_log(log.name(), log.verifying_key()).unwrap();
}

#[tokio::test]
async fn bad_tile_paths_are_400_and_absent_tiles_404() {
    let h = harness(3);
    for bad in [
        "/tile/entries/0",
        "/tile/0/0",
        "/tile/64/000",
        "/tile/0/000.p/0",
        "/tile/0/000.p/256",
        "/tile/0/x000/000",
        "/tile/00/000",
        "/tile/entries/000.p/04",
    ] {
        let (s, headers, body) = get(&h.app, bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert!(headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        assert!(error_of(&body).contains("C2SP tile path"), "{bad}");
    }
    for absent in [
        "/tile/0/000",
        "/tile/0/000.p/5",
        "/tile/1/000.p/1",
        "/tile/entries/001.p/1",
    ] {
        let (s, _, body) = get(&h.app, absent).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{absent}");
        assert!(error_of(&body).contains("published tree"), "{absent}");
    }
    let (s, _, _) = get(&h.app, "/tiles/0/000").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn partial_tiles_for_every_width_and_full_tiles_immutable() {
    let h = harness(299);
    // 300 entries: tile 0 full, tile 1 partial of 44.
    let (s, headers, body) = get(&h.app, "/tile/0/000").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body.len(), 256 * 32);
    assert_eq!(
        headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(headers[header::CONTENT_TYPE], "application/octet-stream");
    // Served again from the cache of full tiles: the same bytes and headers.
    let (s, again_headers, again) = get(&h.app, "/tile/0/000").await;
    assert_eq!((s, &again), (StatusCode::OK, &body));
    assert_eq!(
        again_headers[header::CACHE_CONTROL],
        headers[header::CACHE_CONTROL]
    );
    assert_eq!(
        again_headers[header::CONTENT_TYPE],
        "application/octet-stream"
    );
    let (_, _, b0) = get(&h.app, "/tile/entries/000").await;
    let (_, _, b0_again) = get(&h.app, "/tile/entries/000").await;
    assert_eq!(b0, b0_again);
    assert_eq!(accord_core::tiles::bundle_entries(&b0).unwrap().len(), 256);
    let (s, headers, wide) = get(&h.app, "/tile/0/001.p/44").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(wide.len(), 44 * 32);
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    let (_, _, narrow) = get(&h.app, "/tile/0/001.p/3").await;
    assert_eq!(narrow, wide[..3 * 32]);
    let (s, _, _) = get(&h.app, "/tile/1/000.p/1").await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, bundle) = get(&h.app, "/tile/entries/001.p/44").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        accord_core::tiles::bundle_entries(&bundle).unwrap().len(),
        44
    );
    let (s, _, _) = get(&h.app, "/tile/entries/001.p/45").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn submit_201_then_duplicate_409_forgery_422_garbage_400() {
    let mut h = harness(2);
    let env = h.synth.next_entry();
    let (s, v) = post(&h.app, "/api/v1/entries", env.to_json()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["index"], 3);
    assert!(v["id"].is_string() && v["leaf_hash"].is_string());

    let (s, v) = post(&h.app, "/api/v1/entries", env.to_json()).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("already in the ledger"),
        "{v}"
    );

    let mut forged = h.synth.next_entry();
    // The first signer's keyid, over the right bytes, by another member's key.
    forged.signatures[0].sig = h.synth.members[3].sign(&forged.pae());
    let (s, v) = post(&h.app, "/api/v1/entries", forged.to_json()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"].as_str().unwrap().starts_with("rejected: "),
        "{v}"
    );

    let (s, v) = post(&h.app, "/api/v1/entries", b"{not json".to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"].as_str().unwrap().contains("DSSE envelope"),
        "{v}"
    );
    let (s, _) = post(
        &h.app,
        "/api/v1/entries",
        br#"{"ledger":"x","type":"commitment"}"#.to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (_, _, m) = get(&h.app, "/metrics").await;
    let m = String::from_utf8(m).unwrap();
    assert!(
        m.contains("accord_submissions_total{result=\"accepted\"} 1"),
        "{m}"
    );
    assert!(m.contains("reason=\"duplicate_id\"} 1"), "{m}");
    assert!(
        m.contains("accord_http_request_duration_seconds_bucket{route=\"/api/v1/entries\""),
        "{m}"
    );
    for step in ["apply", "sync"] {
        assert!(
            m.contains(&format!(
                "accord_commit_step_duration_seconds_bucket{{step=\"{step}\",le="
            )),
            "{m}"
        );
    }
}

#[tokio::test]
async fn oversized_bodies_are_413_in_json() {
    let h = harness(1);
    let big = vec![b' '; crate::limits::MAX_BODY_BYTES + 1];
    let (s, v) = post(&h.app, "/api/v1/entries", big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(v["error"].as_str().unwrap().contains("larger than"), "{v}");
}

#[tokio::test]
async fn json_reads_and_their_errors() {
    let h = harness(5);
    let (s, _, b) = get(&h.app, "/api/v1/entries/0").await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["type"], "charter");
    let (s, _, b) = get(&h.app, "/api/v1/entries/99").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(error_of(&b).contains("entry 99"));
    let (s, _, b) = get(&h.app, "/api/v1/entries?from=1&limit=2").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<Value>(&b)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (s, _, b) = get(&h.app, "/api/v1/entries?from=x").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(error_of(&b).starts_with("bad query"));
    let (s, _, b) = get(&h.app, "/api/v1/proof/inclusion?index=2&size=4").await;
    assert_eq!(s, StatusCode::OK);
    let p: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(p["tree_size"], 4);
    let (s, _, _) = get(&h.app, "/api/v1/proof/inclusion?index=9").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, b) = get(&h.app, "/api/v1/proof/consistency?from=2&to=6").await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let (s, _, _) = get(&h.app, "/api/v1/commitments?status=bogus").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, b) = get(&h.app, "/api/v1/commitments").await;
    assert_eq!(s, StatusCode::OK);
    let list: Value = serde_json::from_slice(&b).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let (s, _, b) = get(&h.app, &format!("/api/v1/commitments/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    let c: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(c["commitment"]["id"], id.as_str());
    assert!(c["history"].as_array().is_some_and(|h| !h.is_empty()));
    let (s, _, _) = get(&h.app, "/api/v1/commitments/no-such-thing").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    for path in [
        "/api/v1/summary",
        "/api/v1/members",
        "/api/v1/checkpoint",
        "/healthz",
        "/api/v1/log-key",
    ] {
        let (s, _, _) = get(&h.app, path).await;
        assert_eq!(s, StatusCode::OK, "{path}");
    }
    let (s, _, b) = get(&h.app, &format!("/api/v1/bundle?commitment={id}")).await;
    assert_eq!(s, StatusCode::OK);
    accord_core::bundle::Bundle::from_json(&b).unwrap();
    let (s, _, _) = get(&h.app, "/api/v1/bundle?commitment=nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, b) = call(
        &h.app,
        Request::delete("/api/v1/members")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert!(error_of(&b).contains("not allowed"));
}

#[tokio::test]
async fn cosignatures_are_verified_then_served() {
    let h = harness(2);
    let (_, _, note) = get(&h.app, "/checkpoint").await;
    let cp = accord_core::checkpoint::SignedCheckpoint::from_bytes(&note).unwrap();
    let member = &h.synth.members[1];
    let line = cp
        .cosignature_line(member.name(), member.signing_key(), 1_700_000_000)
        .unwrap();
    let body = |line: &[u8]| {
        serde_json::to_vec(
            &serde_json::json!({"checkpoint": String::from_utf8_lossy(&note),
            "cosignature": String::from_utf8_lossy(line)}),
        )
        .unwrap()
    };
    // Signed by another member's key under this member's name: refused.
    let other = &h.synth.members[2];
    let forged = cp
        .cosignature_line(member.name(), other.signing_key(), 1_700_000_000)
        .unwrap();
    let (s, v) = post(&h.app, "/api/v1/cosignatures", body(&forged)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = post(&h.app, "/api/v1/cosignatures", body(&line)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["cosigners"][0], member.name());
    let (s, v) = post(&h.app, "/api/v1/cosignatures", body(&line)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = post(&h.app, "/api/v1/cosignatures", b"[]".to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, _, served) = get(&h.app, "/checkpoint").await;
    assert!(served.ends_with(&line));
}

#[test]
fn the_request_parsers_refuse_absurd_input_with_a_reason() {
    use crate::http::*;
    for p in [
        "tile/0/x999/x999/x999/x999/x999/x999/x999/000",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/64/000",
        "tile/0/../000",
        "tile/0/1",
        "tile/entries/000.p/0",
        "",
    ] {
        let e = parse_tile_path(p).unwrap_err();
        assert!(matches!(e, crate::ApiError::BadRequest(_)), "{p}: {e:?}");
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(
        parse_tile_path("tile/0/x001/234.p/7").unwrap().to_string(),
        "tile/0/x001/234.p/7"
    );
    assert!(parse_filter_query("kind=nonsense").is_err());
    assert!(parse_filter_query("since=2026-13-01").is_err());
    assert!(parse_filter_query("unknown=1").is_err());
    assert!(parse_filter_query("country=JP&kind=price_floor").is_ok());
    assert!(parse_inclusion_query("index=99999999999999999999999").is_err());
    assert_eq!(
        parse_inclusion_query("index=3&size=9").unwrap(),
        (3, Some(9))
    );
    assert!(parse_consistency_query("from=-1").is_err());
    assert!(parse_list_query("from=1&from=2").is_err());
    assert!(parse_as_of_query("as_of=%ff").is_err());
    assert!(parse_cosignature_body(
        br#"{"checkpoint": "a", "checkpoint": "b", "cosignature": ""}"#
    )
    .is_err());
    assert!(parse_cosignature_body(b"{\"checkpoint\": \"\xff\", \"cosignature\": \"\"}").is_err());
    assert!(parse_envelope(b"{\"payloadType\": 1}").is_err());
}

#[tokio::test]
async fn a_declared_oversized_body_is_refused_before_it_is_read() {
    let h = harness(0);
    let (s, headers, b) = call(
        &h.app,
        Request::post("/api/v1/entries")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, "100000000")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(headers.get(header::CONNECTION).unwrap(), "close");
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert!(v["error"].as_str().unwrap().contains("larger than"), "{v}");
}

#[tokio::test]
async fn pages_are_html_that_loads_nothing_and_bad_requests_are_refused() {
    let h = harness(60);
    for path in [
        "/",
        "/commitments",
        "/members",
        "/trust",
        "/commitments?status=&kind=",
    ] {
        let (s, headers, body) = get(&h.app, path).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'"));
        let html = String::from_utf8(body).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"), "{path}");
        assert!(
            !html.contains("<script"),
            "{path}: served pages need no script"
        );
    }
    // Each commitment listed links to its page, which shows its headline.
    let (_, _, body) = get(&h.app, "/api/v1/commitments").await;
    let list: Vec<Value> = serde_json::from_slice(&body).unwrap();
    assert!(!list.is_empty());
    let v = &list[0];
    let id = v["id"].as_str().unwrap();
    let (s, _, body) = get(
        &h.app,
        &format!("/commitments/{}", crate::pages::path_segment(id)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let html = String::from_utf8(body).unwrap();
    let headline = maud::html! { (v["headline"].as_str().unwrap()) }.into_string();
    assert!(html.contains(&headline), "{id}: {headline}");
    // Filters are the API's: a kind in either spelling, a bad status refused.
    let kind = v["kind"].as_str().unwrap().replace('_', "-");
    let (s, _, body) = get(&h.app, &format!("/commitments?kind={kind}")).await;
    assert_eq!(s, StatusCode::OK);
    let html = String::from_utf8(body).unwrap();
    let rows = html.matches("<tr data-id=").count();
    let want = list.iter().filter(|x| x["kind"] == v["kind"]).count();
    assert_eq!(rows, want);
    let (s, _, body) = get(&h.app, "/commitments?status=lapsed").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("status"));
    let (s, _, _) = get(&h.app, "/commitments?colour=red").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = get(&h.app, "/commitments/no-such-commitment").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = get(&h.app, "/commitments/%ZZ").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = get(&h.app, "/commitments/%FF").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // The governance list is every governance entry after the charter.
    let (s, _, body) = get(&h.app, "/api/v1/governance").await;
    assert_eq!(s, StatusCode::OK);
    let g: Vec<Value> = serde_json::from_slice(&body).unwrap();
    assert!(g.iter().all(|e| e["index"].as_u64().unwrap() > 0));
}
