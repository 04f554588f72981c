//! The parts of the page that every chapter shares: the look
//! (`chat.css`) and the chat itself (`chat.js`: the list, the form,
//! the errors). A chapter's own page adds only how it receives.

use warp::http::{header, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection};

const CHAT_CSS: &str = include_str!("../static/chat.css");
const CHAT_JS: &str = include_str!("../static/chat.js");

/// `GET /chat.css` and `GET /chat.js`.
pub fn routes() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let css = warp::path!("chat.css")
        .and(warp::get())
        .map(|| file(CHAT_CSS, "text/css; charset=utf-8"));
    let js = warp::path!("chat.js")
        .and(warp::get())
        .map(|| file(CHAT_JS, "text/javascript; charset=utf-8"));
    css.or(js).unify()
}

/// A text file with its content type.
pub fn file(body: &'static str, content_type: &'static str) -> Response {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
