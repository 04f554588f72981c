//! `GET /ws`: the opening handshake (RFC 6455 §4).
//!
//! warp routes the request here, and this module checks it: method,
//! `upgrade`, `connection`, `Origin`, version, key, cursor. Each
//! failure gets its own status and a JSON error, before anything is
//! upgraded. Then the bound on open sockets (`--max-connections`),
//! and last the chapter's own `101` (see the upgrade module).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hyper::ext::Protocol;
use hyper::upgrade::OnUpgrade;
use warp::http::uri::Authority;
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use chat::reply::error;
use chat::routes::Query;
use chat::{Cursor, Store};

use crate::session::{self, Limits};
use crate::sockets::Sockets;
use crate::upgrade;
use crate::Config;

/// The one subprotocol this server speaks: messages as JSON text.
pub const SUBPROTOCOL: &str = "chat.v1";

// ANCHOR: route
// GET /ws (and GET /ws?after=ID&run=RUN)
pub fn websocket(
    store: Store,
    config: Config,
    sockets: Sockets,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("ws")
        .and(warp::get())
        .and(warp::header::headers_cloned())
        .and(chat::routes::query())
        // hyper puts an `OnUpgrade` into each HTTP/1.1 request that
        // asks to upgrade: the means to take over the connection after
        // the response. `hyper::upgrade::on(request)` takes it out; a
        // warp handler has no request, but `warp::ext` gives a clone
        // of it, and both clones wait for the same connection.
        .and(warp::ext::optional::<OnUpgrade>())
        .map(move |headers: HeaderMap, query: Query, on_upgrade| {
            let (store, sockets) = (store.clone(), sockets.clone());
            handshake(&headers, &query, on_upgrade, store, &config, sockets)
        })
}
// ANCHOR_END: route

// ANCHOR: upgrade
fn handshake(
    headers: &HeaderMap,
    query: &Query,
    on_upgrade: Option<OnUpgrade>,
    store: Store,
    config: &Config,
    sockets: Sockets,
) -> Response {
    let Accepted {
        key,
        cursor,
        subprotocol,
    } = match check(headers, query, &config.allow_origin) {
        Ok(accepted) => accepted,
        Err(refused) => return refused.into_response(),
    };
    let Some(on_upgrade) = on_upgrade else {
        // hyper offers the connection only to an HTTP/1.1 request: a
        // server ignores `upgrade` in HTTP/1.0 (RFC 9110 §7.8), and
        // RFC 6455 §4.1 asks for 1.1 or later.
        let why = "a WebSocket handshake needs HTTP/1.1";
        return error(StatusCode::BAD_REQUEST, why);
    };
    // The bound comes last, so that a wrong handshake still hears
    // what is wrong with it. The place is taken now, before the 101:
    // past the bound, the answer is 503 and nothing opens at all. It
    // is an ordinary HTTP answer: a client handles any status but 101
    // by the rules of HTTP (RFC 6455 §4.1).
    let Some(slot) = sockets.reserve() else {
        return chat::limit::busy("sockets");
    };
    let limits = Limits::from(config);
    let subprotocol = subprotocol.then_some(SUBPROTOCOL);
    let socket_config = upgrade::socket_config(config);
    upgrade::switch(&key, subprotocol, on_upgrade, socket_config, |socket| {
        session::run(socket, slot, store, cursor, limits, sockets)
    })
}
// ANCHOR_END: upgrade

/// What a valid handshake asked for.
struct Accepted {
    /// `sec-websocket-key`, for the accept value of the 101.
    key: String,
    /// Where the client resumes: `?after=ID&run=RUN`.
    cursor: Cursor,
    /// Whether the client offered `chat.v1`.
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
    let host = headers.get("host").and_then(|h| h.to_str().ok());
    check_origin_and_version(headers, host, allow_origin)?;
    // §4.1: the key is 16 random bytes in base64 (24 characters).
    let key = headers
        .get("sec-websocket-key")
        .and_then(|k| k.to_str().ok());
    let decoded = key.and_then(|k| BASE64.decode(k).ok());
    let (Some(key), Some(16)) = (key, decoded.map(|bytes| bytes.len())) else {
        let why = "sec-websocket-key must be 16 bytes in base64";
        return Err(Refused::new(StatusCode::BAD_REQUEST, why));
    };
    Ok(Accepted {
        key: key.to_owned(),
        cursor: cursor_of(query)?,
        subprotocol: has_token(headers, "sec-websocket-protocol", SUBPROTOCOL),
    })
}
// ANCHOR_END: check

/// The checks that HTTP/2 keeps (RFC 8441 §5): `Origin`, then the
/// version. `host` is where the request was sent: the `host` header
/// in HTTP/1.1, `:authority` in HTTP/2.
fn check_origin_and_version(
    headers: &HeaderMap,
    host: Option<&str>,
    allow_origin: &[String],
) -> Result<(), Refused> {
    // A browser always sends `Origin`, and a page from any site may
    // open a socket to any server: this check is the only thing
    // that stops another site's page from chatting in our name
    // (§10.2). Clients that are not browsers send no `Origin`.
    if let Some(origin) = headers.get("origin") {
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
    Ok(())
}

/// Only a cursor that is not a number is refused here. One that this
/// run never issued is answered on the socket, with a reset.
fn cursor_of(query: &Query) -> Result<Cursor, Refused> {
    query
        .cursor()
        .map_err(|why| Refused::new(StatusCode::BAD_REQUEST, why))
}

// ANCHOR: route_h2
// CONNECT /ws with `:protocol: websocket` (RFC 8441 §4): the same
// socket, as one stream of an HTTP/2 connection. hyper puts the
// `:protocol` pseudo-header into the request as `Protocol`, and an
// `OnUpgrade` that hands over the stream after the 200.
pub fn websocket_over_h2(
    store: Store,
    config: Config,
    sockets: Sockets,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let connect = warp::method()
        .and_then(|method: Method| async move {
            match method {
                Method::CONNECT => Ok(()),
                _ => Err(warp::reject::not_found()),
            }
        })
        .untuple_one();
    warp::path!("ws")
        .and(connect)
        .and(warp::ext::optional::<Protocol>())
        .and(warp::header::headers_cloned())
        .and(warp::host::optional())
        .and(chat::routes::query())
        .and(warp::ext::optional::<OnUpgrade>())
        .map(
            move |protocol: Option<Protocol>,
                  headers: HeaderMap,
                  authority: Option<Authority>,
                  query: Query,
                  on_upgrade: Option<OnUpgrade>| {
                let (store, sockets) = (store.clone(), sockets.clone());
                let request = Connect {
                    protocol,
                    headers,
                    authority,
                    query,
                    on_upgrade,
                };
                connect_h2(request, store, &config, sockets)
            },
        )
}
// ANCHOR_END: route_h2

/// What an extended CONNECT brings.
struct Connect {
    protocol: Option<Protocol>,
    headers: HeaderMap,
    authority: Option<Authority>,
    query: Query,
    on_upgrade: Option<OnUpgrade>,
}

// ANCHOR: connect_h2
fn connect_h2(
    request: Connect,
    store: Store,
    config: &Config,
    sockets: Sockets,
) -> Response {
    // A plain CONNECT asks for a tunnel (RFC 9113 §8.5): not here.
    let is_websocket = request
        .protocol
        .as_ref()
        .is_some_and(|p| p.as_str().eq_ignore_ascii_case("websocket"));
    let (true, Some(on_upgrade)) = (is_websocket, request.on_upgrade) else {
        let why = "CONNECT /ws needs HTTP/2 and :protocol websocket";
        return error(StatusCode::BAD_REQUEST, why);
    };
    let host = request.authority.as_ref().map(Authority::as_str);
    let headers = &request.headers;
    let checked = check_origin_and_version(headers, host, &config.allow_origin)
        .and_then(|()| cursor_of(&request.query));
    let cursor = match checked {
        Ok(cursor) => cursor,
        Err(refused) => return refused.into_response(),
    };
    let Some(slot) = sockets.reserve() else {
        return chat::limit::busy("sockets");
    };
    let offered = has_token(headers, "sec-websocket-protocol", SUBPROTOCOL);
    let subprotocol = offered.then_some(SUBPROTOCOL);
    let limits = Limits::from(config);
    let socket_config = upgrade::socket_config(config);
    upgrade::accept_stream(subprotocol, on_upgrade, socket_config, |socket| {
        session::run(socket, slot, store, cursor, limits, sockets)
    })
}
// ANCHOR_END: connect_h2

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
