//! Requests no route takes still get a JSON error, never an empty body.

use std::convert::Infallible;

use warp::http::StatusCode;
use warp::reject::{InvalidHeader, MethodNotAllowed};
use warp::reply::Response;
use warp::Rejection;

/// Turns a rejection into a JSON error. Use it last:
/// `routes.recover(chat::errors::recover)`.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let (status, why) = if rejection.is_not_found() {
        (
            StatusCode::NOT_FOUND,
            "there is nothing at this path".to_owned(),
        )
    } else if rejection.find::<MethodNotAllowed>().is_some() {
        let why = "this path does not take this method".to_owned();
        (StatusCode::METHOD_NOT_ALLOWED, why)
    } else if let Some(e) = rejection.find::<InvalidHeader>() {
        (StatusCode::BAD_REQUEST, e.to_string())
    } else {
        tracing::warn!(?rejection, "unhandled rejection");
        let why = "the server could not handle this request".to_owned();
        (StatusCode::INTERNAL_SERVER_ERROR, why)
    };
    Ok(crate::reply::error(status, why))
}
