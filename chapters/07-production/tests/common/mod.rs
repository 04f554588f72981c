//! What chapter 7's tests share: the book's own `nginx.conf`, with a
//! test's ports in place of the book's. Each test file uses a part.
#![allow(dead_code)]

use std::net::SocketAddr;

/// The book's configuration, the one "Try it" runs.
pub const NGINX_CONF: &str = include_str!("../../nginx.conf");

/// The ports of the three servers in the book's `upstream chat`.
pub const UPSTREAM_PORTS: [u16; 3] = [3007, 3008, 3009];

// ANCHOR: shipped
/// `text` with `from` replaced by `to`. `from` must be there exactly
/// once, so that a change to the book's file cannot slip past a test.
pub fn replace_once(text: &str, from: &str, to: &str) -> String {
    let found = text.matches(from).count();
    assert_eq!(found, 1, "{from:?} must be in nginx.conf once");
    text.replacen(from, to, 1)
}

/// The book's `nginx.conf`, listening on `listen`, in front of the
/// three servers at `upstreams`. Nothing else changes.
pub fn shipped(listen: u16, upstreams: [u16; 3]) -> String {
    let mut conf = replace_once(
        NGINX_CONF,
        "listen 127.0.0.1:8080;",
        &format!("listen 127.0.0.1:{listen};"),
    );
    for (book, test) in UPSTREAM_PORTS.into_iter().zip(upstreams) {
        conf = replace_once(
            &conf,
            &format!("server 127.0.0.1:{book};"),
            &format!("server 127.0.0.1:{test};"),
        );
    }
    conf
}
// ANCHOR_END: shipped

/// [`shipped`], in front of the three servers at `servers`.
pub fn nginx_conf(listen: u16, servers: &[SocketAddr]) -> String {
    let ports: Vec<u16> = servers.iter().map(SocketAddr::port).collect();
    let ports: [u16; 3] = ports.try_into().expect("three servers");
    shipped(listen, ports)
}
