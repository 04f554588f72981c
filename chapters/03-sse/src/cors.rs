//! `--allow-origin`: let a page from another origin read the stream.
//!
//! A page may open an `EventSource` to any URL. For another origin the
//! browser makes the request in CORS mode (WHATWG HTML §9.2.2): it
//! sends an `Origin` header, and it hands the response to the page
//! only if the response allows that origin (Fetch standard, §3.2
//! "CORS protocol"). The server gets the request either way; only the
//! browser refuses to show the answer.

use warp::http::{header, HeaderMap, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection};

// ANCHOR: allow
/// The origins whose pages may read the stream. Empty (the default):
/// no CORS header at all, and a cross-origin page is refused.
#[derive(Clone, Debug, Default)]
pub struct AllowOrigins {
    origins: Vec<String>,
}

impl AllowOrigins {
    /// Each entry is an origin as a browser writes it in `Origin`
    /// (`http://127.0.0.1:8080`: scheme, host, port; no path), or
    /// `*` for any origin.
    pub fn new(origins: Vec<String>) -> Self {
        AllowOrigins { origins }
    }

    /// Adds the CORS headers for a request that came with `origin`.
    pub fn apply(&self, origin: Option<&str>, headers: &mut HeaderMap) {
        if self.origins.is_empty() {
            return; // no flag: the response stays as it always was
        }
        if self.origins.iter().any(|o| o == "*") {
            // `*` lets any page read the response, but only without
            // credentials: with `withCredentials: true` the browser
            // refuses a `*` (Fetch §3.2.5, "CORS protocol and credentials").
            let any = HeaderValue::from_static("*");
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, any);
            return;
        }
        // The answer depends on the request's Origin: a cache must
        // keep one copy per origin (RFC 9110 §12.5.5).
        headers.insert(header::VARY, HeaderValue::from_static("origin"));
        let Some(origin) = origin.filter(|o| self.origins.iter().any(|a| a == o))
        else {
            return; // not allowed: no header, so the browser refuses
        };
        let Ok(value) = HeaderValue::from_str(origin) else {
            return;
        };
        // The exact origin, not `*`, and `allow-credentials: true`:
        // together they let the page send cookies (`withCredentials`).
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        let yes = HeaderValue::from_static("true");
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, yes);
    }
}

/// `filter`, with the CORS headers for the request's `Origin` added to
/// its response.
pub fn wrap<F>(
    allow: AllowOrigins,
    filter: F,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone
where
    F: Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync,
{
    warp::header::optional::<String>("origin").and(filter).map(
        move |origin: Option<String>, mut response: Response| {
            allow.apply(origin.as_deref(), response.headers_mut());
            response
        },
    )
}
// ANCHOR_END: allow

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(allow: &[&str], origin: Option<&str>) -> Vec<(String, String)> {
        let allow = AllowOrigins::new(allow.iter().map(|s| s.to_string()).collect());
        let mut map = HeaderMap::new();
        allow.apply(origin, &mut map);
        let mut list: Vec<_> = map
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        list.sort();
        list
    }

    #[test]
    fn no_flag_adds_nothing() {
        assert!(headers(&[], Some("http://127.0.0.1:1")).is_empty());
    }

    #[test]
    fn an_allowed_origin_is_echoed_with_credentials() {
        let page = "http://127.0.0.1:1";
        let got = headers(&[page], Some(page));
        let want = [
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-origin", page),
            ("vary", "origin"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn another_origin_gets_only_vary() {
        let got = headers(&["http://127.0.0.1:1"], Some("http://127.0.0.1:2"));
        assert_eq!(got, vec![("vary".to_owned(), "origin".to_owned())]);
    }

    #[test]
    fn a_star_is_sent_as_a_star_without_credentials() {
        let got = headers(&["*"], Some("http://127.0.0.1:2"));
        let want = ("access-control-allow-origin".to_owned(), "*".to_owned());
        assert_eq!(got, vec![want]);
    }
}
