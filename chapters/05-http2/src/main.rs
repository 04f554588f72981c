//! `cargo run -p ch05-http2`: chapter 3's chat over HTTP/1.1, h2c and
//! HTTPS (HTTP/2 by ALPN), on two listeners.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chat::flags;
use clap::Parser;

use ch05_http2::tls::Identity;
use tokio_rustls::TlsAcceptor;

/// Chapter 5 of "The Real-Time Web, Byte by Byte": chapter 3's chat,
/// served over HTTP/1.1 and h2c on --addr and over HTTPS (HTTP/2 by
/// ALPN) on --tls-addr. Open both URLs and compare; /limit.html opens
/// eight event streams at once. /ws is chapter 4's socket: over HTTP/2
/// it is one stream of the page's connection (RFC 8441).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address for http:// (HTTP/1.1, and HTTP/2 by prior knowledge);
    /// port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:3005")]
    addr: SocketAddr,

    /// Address for https:// (TLS; ALPN offers h2, then http/1.1).
    #[arg(long, default_value = "127.0.0.1:3443")]
    tls_addr: SocketAddr,

    /// PEM certificate chain for https:// (default: a self-signed
    /// certificate made at start). Needs --key.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,

    /// PEM private key for --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,

    /// How many messages the server keeps in memory (per room).
    #[arg(long, default_value_t = 1000, value_parser = flags::at_least_one)]
    history: usize,

    /// Seconds without an event before the server sends a comment
    /// line, so that proxies do not close the quiet connection.
    #[arg(long, default_value = "15", value_parser = flags::seconds)]
    heartbeat: Duration,

    /// Seconds the browser waits before it reconnects.
    #[arg(long, default_value = "2", value_parser = flags::seconds)]
    retry: Duration,

    /// Seconds to answer 204 to reconnecting pages after Ctrl-C, so
    /// that they stop trying (0 stops at once).
    #[arg(long, default_value = "3", value_parser = flags::seconds_or_zero)]
    drain: Duration,

    /// How many event streams may be open at once, the rooms'
    /// included; past it, a new one gets 503 with Retry-After.
    #[arg(long, default_value_t = 10_000, value_parser = flags::at_least_one)]
    max_connections: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let (acceptor, fingerprint) = match certificate(&args) {
        Ok(tls) => tls,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::FAILURE;
        }
    };
    let config = ch05_http2::Config {
        sse: ch03_sse::Config {
            history: args.history,
            run: None,
            heartbeat: args.heartbeat,
            retry: args.retry,
            drain: args.drain,
            max_connections: args.max_connections,
            ..ch03_sse::Config::default()
        },
        ..ch05_http2::Config::default()
    };
    // `run` prints `listening on http://…`; this chapter's second
    // listener prints its own line after it.
    chat::server::run(args.addr, |listener, shutdown| async move {
        let tls_addr = args.tls_addr;
        let tls_listener =
            chat::server::bind_quietly(tls_addr, "--tls-addr").await?;
        let tls_local = tls_listener.local_addr().map_err(|e| e.to_string())?;
        chat::server::announce(&[
            format!("listening on https://{tls_local}"),
            // Compare it with what the browser shows for the certificate.
            format!("certificate SHA-256 fingerprint {fingerprint}"),
        ]);
        let tls = ch05_http2::Tls {
            listener: tls_listener,
            acceptor,
        };
        ch05_http2::serve(listener, Some(tls), config, shutdown).await;
        Ok(())
    })
    .await
}

/// The certificate of `https://`, ready for the TLS handshake, and its
/// SHA-256 fingerprint: from --cert and --key, or self-signed.
fn certificate(args: &Args) -> Result<(TlsAcceptor, String), String> {
    let identity = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => Identity::from_pem_files(cert, key)?,
        _ => Identity::self_signed(),
    };
    let fingerprint = identity.fingerprint();
    Ok((identity.acceptor()?, fingerprint))
}
