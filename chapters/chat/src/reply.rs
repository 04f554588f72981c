//! Small helpers that build the chat's HTTP answers.

use serde::Serialize;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

/// A JSON answer with the given status.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let body = serde_json::to_vec(value).expect("chat values always serialize");
    json_bytes(status, body)
}

/// A JSON answer whose body is already encoded.
pub fn json_bytes(status: StatusCode, body: impl Into<bytes::Bytes>) -> Response {
    let body: bytes::Bytes = body.into();
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

// ANCHOR: error
/// Every error of the chat is `{"error": "<what is wrong, in words>"}`
/// with a status that says which kind of mistake it is.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    #[derive(Serialize)]
    struct Error {
        error: String,
    }
    json(
        status,
        &Error {
            error: message.into(),
        },
    )
}
// ANCHOR_END: error

// ANCHOR: unavailable
/// The shared log cannot take a post (chapter 7): `503 Service
/// Unavailable`, "a temporary overload or scheduled maintenance"
/// (RFC 9110 §15.6.4), with `Retry-After` to say when to try again.
/// Nothing was stored, so the client may send the same post again.
pub fn unavailable(why: &crate::Unavailable) -> Response {
    let text = format!("the chat cannot store messages now: {}", why.0);
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, text);
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(2));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
// ANCHOR_END: unavailable
