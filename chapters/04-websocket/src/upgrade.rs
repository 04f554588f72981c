//! The `101 Switching Protocols`, written by the chapter itself, and
//! the socket built on the connection that HTTP gives up after it.
//!
//! warp has a ready-made `warp::ws()`, but it sets tungstenite's
//! buffers to their defaults, and it computes its own accept value.
//! Here the chapter answers the handshake with the [`accept_key`]
//! the book shows, takes the connection from hyper, and chooses the
//! socket's buffers itself ([`socket_config`]).

use std::future::Future;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use sha1::{Digest, Sha1};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

use crate::Config;

/// An open socket: tungstenite's frames over what hyper handed over:
/// the connection after a 101, or an HTTP/2 stream (RFC 8441).
pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

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

/// Frames collect up to this many bytes before tungstenite writes.
pub const WRITE_BUFFER: usize = 8 * 1024;

// ANCHOR: config
/// The buffers and limits of every socket. tungstenite's defaults,
/// in the comments, suit a library that does not know its traffic.
/// A chat has many sockets that are quiet most of the time.
pub fn socket_config(config: &Config) -> WebSocketConfig {
    WebSocketConfig::default()
        // Default 128 KiB. tungstenite allocates it for each socket
        // and fills it with zeros before it reads into it. A client
        // sends a small post now and then: 2 KiB (`--read-buffer`)
        // holds one, and a larger frame makes the buffer grow.
        .read_buffer_size(config.read_buffer)
        // Default 128 KiB: frames collect until the buffer holds that
        // much, or until a flush. 8 KiB: the frames of a batch (the
        // replay after `?after=`, or messages posted while the socket
        // was busy) go out in one write, and the buffer never grows
        // much past 8 KiB. It is not allocated until a frame is sent.
        .write_buffer_size(WRITE_BUFFER)
        // Default: no limit. A frame that does not fit is refused
        // (`--max-buffer`), and the socket is dropped.
        .max_write_buffer_size(config.max_buffer)
        // Defaults 64 MiB per message and 16 MiB per frame: a client
        // could make the server hold that much. Past the limit, the
        // socket closes with 1009 (`--max-message`).
        .max_message_size(Some(config.max_message))
        .max_frame_size(Some(config.max_message))
}
// ANCHOR_END: config

// ANCHOR: switch
/// Answers `101 Switching Protocols` and, once hyper has sent it,
/// runs `session` on the connection, with the buffers of `config`.
pub fn switch<F, Fut>(
    key: &str,
    subprotocol: Option<&'static str>,
    on_upgrade: OnUpgrade,
    config: WebSocketConfig,
    session: F,
) -> Response
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    // The 101 and what the client checks in it (RFC 6455 §4.1). A
    // 101 names the new protocol in `upgrade` and lists `upgrade` in
    // `connection` (RFC 9110 §7.8); then the accept value.
    let mut response = Response::default();
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    let accept = HeaderValue::from_str(&accept_key(key)).expect("base64 is ASCII");
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    answer(response, subprotocol, on_upgrade, config, session)
}

/// Names the subprotocol in `response`, and once hyper has sent it,
/// runs `session` on what hyper hands over: the TCP connection after a
/// 101, or one HTTP/2 stream after a 200 to an extended CONNECT.
fn answer<F, Fut>(
    mut response: Response,
    subprotocol: Option<&'static str>,
    on_upgrade: OnUpgrade,
    config: WebSocketConfig,
    session: F,
) -> Response
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if let Some(name) = subprotocol {
        // One protocol from the client's list, or none; never one the
        // client did not offer (RFC 6455 §4.2.2).
        let name = HeaderValue::from_static(name);
        let headers = response.headers_mut();
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, name);
    }
    tokio::spawn(async move {
        // hyper writes the answer first, then hands the bytes over:
        // what follows its head is no longer HTTP, but frames.
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                // The client left before the answer reached it.
                tracing::debug!("no upgrade: {e}");
                return;
            }
        };
        // The handshake is done, so no handshake here: the socket
        // starts with frames, as the server's side (it never masks).
        let io = TokioIo::new(upgraded);
        let socket =
            WebSocketStream::from_raw_socket(io, Role::Server, Some(config));
        session(socket.await).await;
    });
    response
}
// ANCHOR_END: switch

// ANCHOR: over_h2
/// Answers an extended CONNECT (RFC 8441 §5) with `200`, and runs
/// `session` on the stream. There is no key and no accept value: the
/// `:protocol` pseudo-header already shows that the client speaks
/// WebSocket, and an HTTP/2 server that never sent
/// SETTINGS_ENABLE_CONNECT_PROTOCOL would have refused it (§3).
pub fn accept_stream<F, Fut>(
    subprotocol: Option<&'static str>,
    on_upgrade: OnUpgrade,
    config: WebSocketConfig,
    session: F,
) -> Response
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    // `200` is Response's default status.
    answer(
        Response::default(),
        subprotocol,
        on_upgrade,
        config,
        session,
    )
}
// ANCHOR_END: over_h2

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
}
