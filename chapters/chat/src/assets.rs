//! The parts of the page that every chapter shares: the look
//! (`chat.css`) and the chat itself (`chat.js`: the list, the form,
//! the errors). A chapter's own page adds only how it receives.

use warp::http::{header, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::store::Store;

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

/// `GET /`: a chapter's page, with the name of the server's run
/// written where the page has `{{run}}` (see [`crate::cursor`]). It
/// is written for each request: chapter 7's run can change.
pub fn page(
    html: &str,
    store: &Store,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let html = html.to_owned();
    let store = store.clone();
    warp::path::end().and(warp::get()).map(move || {
        let html = html.replace("{{run}}", store.run().as_str());
        let mut response = Response::new(html.into());
        let html_type = HeaderValue::from_static("text/html; charset=utf-8");
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, html_type);
        response
    })
}

/// `GET /<name>`: a chapter's script.
pub fn script(
    name: &'static str,
    js: &'static str,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    asset(name, js, "text/javascript; charset=utf-8")
}

/// `GET /<name>`: any other file a chapter's page needs.
pub fn asset(
    name: &'static str,
    body: &'static str,
    content_type: &'static str,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path(name)
        .and(warp::path::end())
        .and(warp::get())
        .map(move || file(body, content_type))
}

/// A text file with its content type.
pub fn file(body: &'static str, content_type: &'static str) -> Response {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
