//! `cargo run -p book`: the book on http://127.0.0.1:3000, and every
//! chapter's chat on its usual port, each behind a tap whose bytes the
//! chapter's page shows live.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

/// "The Real-Time Web, Byte by Byte", live: the book, built in this
/// process, and every chapter's chat beside its pages, with the bytes
/// of your own browser shown as they cross. Open the first URL.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address of the book; port 0 picks a free port. Chapter N
    /// listens on the same host, at this port + N (3001, 3002, …);
    /// with port 0, each chapter gets a free port too.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,

    /// The Redis that chapter 7 keeps its messages in. When none
    /// answers, the book runs every other chapter and says why
    /// chapter 7 is missing.
    #[arg(long, default_value = book::chapters::REDIS)]
    redis: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    chat::server::init_tracing();
    // Before any `listening on` line: see `chat::server::shutdown_signal`.
    let shutdown = chat::server::shutdown_signal();
    match run(args, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("error: {why}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    args: Args,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    // Every port first: a busy one is reported at once, not after the
    // build.
    // Chapter 7 needs a Redis. Without one, the book runs the others
    // and says why chapter 7 is missing, with the way to get it.
    book::chapters::use_redis(args.redis.clone());
    let mut chapters = book::chapters::all();
    let mut missing = None;
    if let Err(why) = book::chapters::production_ready().await {
        chapters.retain(|chapter| chapter.number != 7);
        missing = Some(format!(
            "chapter 7 is not served: {why}; start one with `redis-server` \
             (Debian: sudo apt-get install redis-server)"
        ));
    }
    let listeners = book::Listeners::bind(args.addr, chapters).await?;

    let out = tempfile::Builder::new()
        .prefix("live-book-")
        .tempdir()
        .map_err(|e| format!("cannot make a folder for the HTML: {e}"))?;
    let into = out.path().to_path_buf();
    let built = tokio::task::spawn_blocking(move || {
        book::site::build(&book::site::root(), &into)
    });
    let site = built
        .await
        .map_err(|e| format!("the build stopped: {e}"))?
        .map_err(|e| format!("cannot build the book: {e}"))?;

    let lines = listeners.lines().map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(stdout, "{line}");
    }
    if let Some(missing) = missing {
        let _ = writeln!(stdout, "{missing}");
    }
    // Flush now: a script that starts the book waits for these lines.
    let _ = stdout.flush();
    drop(stdout);
    book::serve(listeners, site, shutdown)
        .await
        .map_err(|e| format!("cannot start a chapter: {e}"))?;
    // The HTML goes with the folder.
    drop(out);
    Ok(())
}
