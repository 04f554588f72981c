//! `GET /ws`: the opening handshake (RFC 6455 §4).
//!
//! `warp::ws()` checks the method and the `connection`, `upgrade`,
//! `sec-websocket-version` and `sec-websocket-key` headers by itself,
//! but a request that fails one of them is only "not found" to warp:
//! the client would get a 404 that says nothing. So this module
//! checks the same things first, and each failure gets its own status
//! and a JSON error. It also checks what warp does not: the `Origin`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha1::{Digest, Sha1};
use warp::http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::{Reply, Response};
use warp::ws::Ws;
use warp::{Filter, Rejection};

use chat::reply::error;
use chat::routes::Query;
use chat::Store;

use crate::session::{self, Sessions};
use crate::Config;

/// The one subprotocol this server speaks: messages as JSON text.
pub const SUBPROTOCOL: &str = "chat.v1";

// ANCHOR: accept_key
/// The `Sec-WebSocket-Accept` value for a client's key (RFC 6455
/// §4.2.2): SHA-1 of the key followed by a fixed GUID, in base64.
/// Only a server that knows WebSocket can answer it, so a plain HTTP
/// server (or a cache) cannot be fooled into "accepting" an upgrade.
pub fn accept_key(key: &str) -> String {
    const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(GUID.as_bytes());
    BASE64.encode(sha1.finalize())
}
// ANCHOR_END: accept_key

// ANCHOR: route
// GET /ws (and GET /ws?after=ID)
pub fn websocket(
    store: Store,
    config: Config,
    sessions: Sessions,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // warp::ws() rejects a request it cannot upgrade; here that only
    // means "no Ws", and `upgrade` below says why in words.
    let maybe_ws = warp::ws().map(Some).or(warp::any().map(|| None)).unify();
    warp::path!("ws")
        .and(warp::get())
        .and(warp::header::headers_cloned())
        .and(chat::routes::query())
        .and(maybe_ws)
        .map(move |headers: HeaderMap, query: Query, ws: Option<Ws>| {
            let (store, sessions) = (store.clone(), sessions.clone());
            upgrade(&headers, &query, ws, store, &config, sessions)
        })
}
// ANCHOR_END: route

// ANCHOR: upgrade
fn upgrade(
    headers: &HeaderMap,
    query: &Query,
    ws: Option<Ws>,
    store: Store,
    config: &Config,
    sessions: Sessions,
) -> Response {
    let accepted = match check(headers, query, &config.allow_origin) {
        Ok(accepted) => accepted,
        Err(refused) => return refused.into_response(),
    };
    let Some(ws) = ws else {
        // Our checks passed, so warp refused for a reason we missed.
        return error(StatusCode::BAD_REQUEST, "not a WebSocket handshake");
    };
    // tungstenite's defaults: 64 MiB messages, 16 MiB frames, and a
    // write buffer without a limit. A chat needs none of that.
    let ws = ws
        .max_message_size(config.max_message)
        .max_frame_size(config.max_message)
        .max_write_buffer_size(config.max_buffer);
    let limits = session::Limits::from(config);
    let after = accepted.after;
    let mut response = ws
        .on_upgrade(move |socket| {
            session::run(socket, store, after, limits, sessions)
        })
        .into_response();
    if accepted.subprotocol {
        // The server names one protocol from the client's list, or
        // none; never one the client did not offer (§4.2.2).
        let value = HeaderValue::from_static(SUBPROTOCOL);
        response
            .headers_mut()
            .insert("sec-websocket-protocol", value);
    }
    response
}
// ANCHOR_END: upgrade

/// What a valid handshake asked for.
struct Accepted {
    after: u64,
    subprotocol: bool,
}

/// Why a handshake is refused: a status, the words for the JSON
/// error, and a header that tells the client what would work.
struct Refused {
    status: StatusCode,
    why: String,
    hint: Option<(&'static str, &'static str)>,
}

impl Refused {
    fn new(status: StatusCode, why: impl Into<String>) -> Refused {
        let why = why.into();
        Refused {
            status,
            why,
            hint: None,
        }
    }

    fn hint(mut self, name: &'static str, value: &'static str) -> Refused {
        self.hint = Some((name, value));
        self
    }

    fn into_response(self) -> Response {
        let mut response = error(self.status, self.why);
        if let Some((name, value)) = self.hint {
            let value = HeaderValue::from_static(value);
            response.headers_mut().insert(name, value);
        }
        response
    }
}

// ANCHOR: check
/// The checks of RFC 6455 §4.2.1, in order, each with its answer.
fn check(
    headers: &HeaderMap,
    query: &Query,
    allow_origin: &[String],
) -> Result<Accepted, Refused> {
    // A plain GET: 426 says "this resource needs another protocol",
    // and RFC 9110 §15.5.22 wants an `upgrade` header naming it.
    if !has_token(headers, "upgrade", "websocket") {
        let why = "this address speaks WebSocket: send upgrade: websocket";
        let refused = Refused::new(StatusCode::UPGRADE_REQUIRED, why);
        return Err(refused.hint("upgrade", "websocket"));
    }
    if !has_token(headers, "connection", "upgrade") {
        let why = "a WebSocket handshake needs connection: upgrade";
        return Err(Refused::new(StatusCode::BAD_REQUEST, why));
    }
    // A browser always sends `Origin`, and a page from any site may
    // open a socket to any server: this check is the only thing
    // that stops another site's page from chatting in our name
    // (§10.2). Clients that are not browsers send no `Origin`.
    if let Some(origin) = headers.get("origin") {
        let host = headers.get("host").and_then(|h| h.to_str().ok());
        if !origin_allowed(origin, host, allow_origin) {
            let origin = String::from_utf8_lossy(origin.as_bytes());
            let why = format!("origin {origin} may not open a socket here");
            return Err(Refused::new(StatusCode::FORBIDDEN, why));
        }
    }
    // §4.4: a version we do not speak gets 426 and the list of the
    // versions we do, so that a client can try again with one.
    let version = headers.get("sec-websocket-version");
    if version.is_none_or(|v| v.as_bytes() != b"13") {
        let why = "sec-websocket-version must be 13";
        let refused = Refused::new(StatusCode::UPGRADE_REQUIRED, why);
        return Err(refused.hint("sec-websocket-version", "13"));
    }
    // §4.1: the key is 16 random bytes in base64 (24 characters).
    let key = headers.get("sec-websocket-key").map(|k| k.as_bytes());
    let decoded = key.and_then(|k| BASE64.decode(k).ok());
    if decoded.is_none_or(|bytes| bytes.len() != 16) {
        let why = "sec-websocket-key must be 16 bytes in base64";
        return Err(Refused::new(StatusCode::BAD_REQUEST, why));
    }
    let after = query
        .after()
        .map_err(|why| Refused::new(StatusCode::BAD_REQUEST, why))?;
    Ok(Accepted {
        after,
        subprotocol: has_token(headers, "sec-websocket-protocol", SUBPROTOCOL),
    })
}
// ANCHOR_END: check

/// Whether a comma-separated header (in any of its lines) holds
/// `token`, in any letter case.
fn has_token(headers: &HeaderMap, name: &str, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

// ANCHOR: origin
/// Same origin: the `Origin` names the host the request was sent to
/// (`http://127.0.0.1:3004` for `host: 127.0.0.1:3004`). Any other
/// origin must be listed with `--allow-origin`.
fn origin_allowed(
    origin: &HeaderValue,
    host: Option<&str>,
    allowed: &[String],
) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    match (authority, host) {
        (Some(authority), Some(host)) => authority.eq_ignore_ascii_case(host),
        _ => false,
    }
}
// ANCHOR_END: origin

#[cfg(test)]
mod tests {
    use super::*;

    // ANCHOR: accept_tests
    #[test]
    fn accept_key_matches_rfc_6455_and_a_common_walkthrough() {
        // RFC 6455 §1.3.
        let rfc = accept_key("dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(rfc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        // The pair quoted in many `nc` walkthroughs.
        let nc = accept_key("P7Kp2hTLNRPFMGLxPV47eQ==");
        assert_eq!(nc, "fX+lgbZ/+V4eiY0s9Muig1sv880=");
    }
    // ANCHOR_END: accept_tests

    #[test]
    fn origins() {
        let host = Some("127.0.0.1:3004");
        let ok = |o: &str, allowed: &[String]| {
            origin_allowed(&HeaderValue::from_str(o).unwrap(), host, allowed)
        };
        assert!(ok("http://127.0.0.1:3004", &[]));
        assert!(ok("https://127.0.0.1:3004", &[]));
        assert!(!ok("http://127.0.0.1:3005", &[]));
        assert!(!ok("http://evil.example", &[]));
        assert!(!ok("null", &[]));
        let listed = ["http://localhost:8080".to_owned()];
        assert!(ok("http://localhost:8080", &listed));
    }
}
