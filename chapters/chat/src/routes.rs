//! The chat's HTTP routes: `POST /messages` and `GET /messages`.

use std::convert::Infallible;

use futures_util::{Stream, StreamExt};
use sha1::{Digest, Sha1};
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Buf, Filter, Rejection};

use crate::cursor::{Cursor, Reset};
use crate::message::NewMessage;
use crate::reply::{error, json, json_bytes};
use crate::store::Store;

/// The largest request body the chat reads (chapter 1, "Posting a message").
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The most messages one `GET /messages` answers with.
pub const PAGE_SIZE: usize = 100;

/// Both chat routes: `POST /messages` and `GET /messages?after=ID`.
pub fn routes(
    store: Store,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    post_messages(store.clone()).or(get_messages(store)).unify()
}

/// A filter that hands a clone of the store to a handler.
pub fn with_store(
    store: Store,
) -> impl Filter<Extract = (Store,), Error = Infallible> + Clone {
    warp::any().map(move || store.clone())
}

// ANCHOR: post_route
// POST /messages
pub fn post_messages(
    store: Store,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("messages")
        .and(warp::post())
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .and(with_store(store))
        .then(post_message)
}
// ANCHOR_END: post_route

// ANCHOR: post_handler
async fn post_message<S, B>(
    content_type: Option<String>,
    content_length: Option<u64>,
    body: S,
    store: Store,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    // A declared length over the limit is refused before reading a
    // single byte of the body.
    if content_length.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large();
    }
    if !is_json(content_type.as_deref()) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type must be application/json",
        );
    }
    // A chunked body has no length up front: count while reading.
    let Some(bytes) = read_limited(body, MAX_BODY_BYTES).await else {
        return too_large();
    };
    let new: NewMessage = match serde_json::from_slice(&bytes) {
        Ok(new) => new,
        Err(e) => {
            return error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}"))
        }
    };
    if let Err(why) = new.validate() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, why);
    }
    // Into the store, or to the shared log (chapter 7), which may be
    // down: then nothing is stored, and the client may try again.
    let message = match store.submit(new).await {
        Ok(message) => message,
        Err(why) => return crate::reply::unavailable(&why),
    };
    tracing::info!(id = message.id(), "message stored");
    // The bytes made once at `post`, the same every reader gets.
    json_bytes(StatusCode::CREATED, message.json().clone())
}
// ANCHOR_END: post_handler

fn too_large() -> Response {
    let why = format!("the body must be at most {MAX_BODY_BYTES} bytes");
    error(StatusCode::PAYLOAD_TOO_LARGE, why)
}

/// `application/json`, in any letter case, with or without
/// parameters such as `; charset=utf-8` (RFC 9110 §8.3.1).
fn is_json(content_type: Option<&str>) -> bool {
    let Some(value) = content_type else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// Reads the whole body, or gives up (`None`) once it is over `limit`.
/// A broken body counts as empty, which then fails as invalid JSON.
async fn read_limited<S, B>(body: S, limit: usize) -> Option<Vec<u8>>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut body = std::pin::pin!(body);
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let Ok(mut chunk) = chunk else {
            return Some(Vec::new());
        };
        if bytes.len() + chunk.remaining() > limit {
            return None;
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            bytes.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Some(bytes)
}

// ANCHOR: get_route
// GET /messages?after=ID
pub fn get_messages(
    store: Store,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("messages")
        .and(warp::get())
        .and(query())
        .and(warp::header::optional::<String>("if-none-match"))
        .and(with_store(store))
        .map(list_messages)
}
// ANCHOR_END: get_route

// ANCHOR: get_handler
fn list_messages(
    query: Query,
    if_none_match: Option<String>,
    store: Store,
) -> Response {
    let cursor = match query.cursor() {
        Ok(cursor) => cursor,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    // One body and one ETag for every client at this cursor, made
    // once until the next post (see `Store::page`).
    let page = match store.page(&cursor, PAGE_SIZE) {
        Ok(page) => page,
        Err(reset) => return conflict(&reset),
    };
    let mut response = if matches_etag(if_none_match.as_deref(), &page.etag) {
        // The client already has these bytes: say so, send no body
        // (RFC 9110 §15.4.5). The 304 must repeat the ETag.
        let mut r = Response::new(Vec::new().into());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        json_bytes(StatusCode::OK, page.body)
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, page.etag);
    // `no-cache` does not forbid caching: it asks the browser to check
    // with the server every time, sending `If-None-Match` by itself.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
// ANCHOR_END: get_handler

// ANCHOR: conflict
/// A cursor this run cannot continue: `409 Conflict`, "a conflict
/// with the current state of the target resource" that the client
/// can resolve and then ask again (RFC 9110 §15.5.10). An empty 200
/// would say "nothing new", and the client would wait for ever. The
/// body says why, and the cursor to ask with instead.
pub fn conflict(reset: &Reset) -> Response {
    let mut response = json(StatusCode::CONFLICT, reset);
    let no_store = HeaderValue::from_static("no-store");
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, no_store);
    response
}
// ANCHOR_END: conflict

// ANCHOR: etag
/// A strong ETag: the first 64 bits of the SHA-1 of the body, in hex.
/// It depends only on the bytes, so it survives a server restart and
/// every copy of the server agrees on it.
pub(crate) fn etag_of(body: &[u8]) -> HeaderValue {
    let digest = Sha1::digest(body);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex is a valid header")
}

/// `If-None-Match` holds `*` or a list of tags. It matches with the
/// weak comparison, which ignores a `W/` prefix (RFC 9110 §13.1.2).
fn matches_etag(if_none_match: Option<&str>, etag: &HeaderValue) -> bool {
    let Some(list) = if_none_match else {
        return false;
    };
    let ours = etag.to_str().unwrap_or("");
    list.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == ours)
}
// ANCHOR_END: etag

/// The query string as name–value pairs, in order.
#[derive(Clone, Debug, Default)]
pub struct Query(pub Vec<(String, String)>);

/// Extracts the query string; a request without one gives no pairs.
pub fn query() -> impl Filter<Extract = (Query,), Error = Infallible> + Clone {
    warp::query::<Vec<(String, String)>>()
        .map(Query)
        .or(warp::any().map(Query::default))
        .unify()
}

impl Query {
    /// The last value of `name`, if the query has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        let pairs = self.0.iter().rev();
        pairs
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    // ANCHOR: after
    /// The `after` cursor: absent means 0. Anything but a whole
    /// number from 0 to 2^64 - 1 is an error, which the route answers
    /// with 400.
    pub fn after(&self) -> Result<u64, String> {
        match self.get("after") {
            None => Ok(0),
            Some(text) => text.parse().map_err(|_| {
                format!("after must be a message id (a whole number), not {text:?}")
            }),
        }
    }
    // ANCHOR_END: after

    // ANCHOR: query_cursor
    /// The client's cursor: `after`, and the run it came from, when
    /// the client names it (`?after=5&run=k3x9qa`).
    pub fn cursor(&self) -> Result<Cursor, String> {
        let after = self.after()?;
        let run = self.get("run").map(String::from);
        Ok(Cursor { run, after })
    }
    // ANCHOR_END: query_cursor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(Some("application/jsonx")));
        assert!(!is_json(None));
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        let tag = etag_of(b"[]");
        let ours = tag.to_str().unwrap().to_owned();
        assert!(matches_etag(Some(&ours), &tag));
        assert!(matches_etag(Some(&format!("W/{ours}")), &tag));
        assert!(matches_etag(Some(&format!("\"x\", {ours}")), &tag));
        assert!(matches_etag(Some("*"), &tag));
        assert!(!matches_etag(Some("\"other\""), &tag));
        assert!(!matches_etag(None, &tag));
    }
}
