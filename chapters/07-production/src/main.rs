//! `cargo run -p ch07-production`: three servers of the chat on one
//! Redis stream, ready for the nginx in front of them.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use chat::flags;
use clap::Parser;

/// Chapter 7 of "The Real-Time Web, Byte by Byte": the chat on
/// several servers that share their messages in a Redis stream. Put
/// nginx in front of them (chapters/07-production/nginx.conf), or
/// open any one of them: each has every message.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The Redis server that holds the log.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis: String,

    /// The prefix of the Redis keys: PREFIX:messages (the stream),
    /// PREFIX:next-id and PREFIX:run.
    #[arg(long, default_value = "chat")]
    key: String,

    /// Address of the first server; the others take the next ports.
    /// Port 0 gives every server a free port.
    #[arg(long, default_value = "127.0.0.1:3007")]
    addr: SocketAddr,

    /// How many servers to start in this process (each one is what a
    /// separate machine would run).
    #[arg(long, default_value_t = 3, value_parser = flags::at_least_one)]
    servers: usize,

    /// The first server's name, one letter; the others take the next
    /// letters. Each answer says who sent it: `x-served-by: a`.
    #[arg(long, default_value = "a", value_parser = letter)]
    name: char,

    /// How many messages each server keeps in memory, and the
    /// stream's retention (XADD … MAXLEN ~ N).
    #[arg(long, default_value_t = 1000, value_parser = flags::at_least_one)]
    history: usize,

    /// Seconds without an event before an event stream gets a comment
    /// line. It must be shorter than the proxy's read timeout (nginx:
    /// proxy_read_timeout, 60 s by default).
    #[arg(long, default_value = "15", value_parser = flags::seconds)]
    heartbeat: Duration,

    /// How often each WebSocket is pinged, in seconds. Also shorter
    /// than the proxy's read timeout.
    #[arg(long, default_value = "30", value_parser = flags::seconds)]
    ping: Duration,

    /// Seconds the browser waits before it reconnects an event stream.
    #[arg(long, default_value = "2", value_parser = flags::seconds)]
    retry: Duration,

    /// Seconds to answer 204 to reconnecting event streams after
    /// Ctrl-C (0 stops at once).
    #[arg(long, default_value = "3", value_parser = flags::seconds_or_zero)]
    drain: Duration,

    /// How many event streams, and how many WebSockets, each server
    /// may have open at once.
    #[arg(long, default_value_t = 10_000, value_parser = flags::at_least_one)]
    max_connections: usize,

    /// An origin allowed to open the WebSocket besides the server's
    /// own host, as a browser writes it (http://127.0.0.1:8080).
    /// Behind nginx, the Host header is nginx's, so this is needed
    /// only if nginx rewrites Host. Repeat it for more.
    #[arg(long)]
    allow_origin: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    chat::server::init_tracing();
    // Before the first `listening on` line: see `shutdown_signal`.
    let signal = chat::server::shutdown_signal();
    let log = match ch07_production::RedisLog::connect(
        &args.redis,
        &args.key,
        args.history,
    )
    .await
    {
        Ok(log) => log,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::FAILURE;
        }
    };
    let stop = chat::server::Stop::new();
    let mut servers = Vec::new();
    for n in 0..args.servers {
        let mut addr = args.addr;
        if addr.port() != 0 {
            addr.set_port(addr.port() + n as u16);
        }
        let listener = match chat::server::bind(addr).await {
            Ok(listener) => listener,
            Err(why) => {
                eprintln!("error: {why}");
                return ExitCode::FAILURE;
            }
        };
        let config = config(&args, n);
        let shutdown = stop.shutdown().stopped();
        let log = log.clone();
        servers.push(tokio::spawn(ch07_production::serve(
            listener, log, config, shutdown,
        )));
    }
    signal.await;
    stop.now();
    for server in servers {
        let _ = server.await;
    }
    ExitCode::SUCCESS
}

/// `--name`: one letter from a to z.
fn letter(text: &str) -> Result<char, String> {
    match text.as_bytes() {
        [b @ b'a'..=b'z'] => Ok(*b as char),
        _ => Err(format!("a name is one letter from a to z, not {text:?}")),
    }
}

/// The settings of server number `n`: named a, b, c, … from `--name`.
fn config(args: &Args, n: usize) -> ch07_production::Config {
    let offset = (args.name as u8 - b'a') as usize + n;
    let name = ((b'a' + (offset % 26) as u8) as char).to_string();
    let sse = ch03_sse::Config {
        history: args.history,
        run: None,
        heartbeat: args.heartbeat,
        retry: args.retry,
        drain: args.drain,
        max_connections: args.max_connections,
        ..ch03_sse::Config::default()
    };
    let ws = ch04_websocket::Config {
        history: args.history,
        ping: args.ping,
        allow_origin: args.allow_origin.clone(),
        max_connections: args.max_connections,
        ..ch04_websocket::Config::default()
    };
    ch07_production::Config { name, sse, ws }
}
