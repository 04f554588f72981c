//! The `serve` command, run as the harness runs it: a child process
//! that prints its address and stops on SIGTERM.

use std::time::Duration;

use wire::process::Server;

#[tokio::test]
async fn every_technique_serves_and_stops_on_sigterm() {
    let exe = env!("CARGO_BIN_EXE_ch06-choosing");
    for technique in [
        "polling",
        "long-polling",
        "sse",
        "sse-h2c",
        "websocket",
        "floor",
    ] {
        let server = Server::start(exe, &["serve", technique]).await;
        assert!(server.addr.ip().is_loopback(), "{technique} on 127.0.0.1");
        // Something answers on the port.
        let connected = tokio::net::TcpStream::connect(server.addr).await;
        assert!(connected.is_ok(), "{technique} accepts a connection");
        drop(connected);
        // A bound for a hang, not a measure of speed.
        let status = server.terminate(Duration::from_secs(15)).await;
        assert!(status.success(), "{technique} stops cleanly: {status}");
    }
}

#[tokio::test]
async fn refuses_bad_flags_with_a_clear_message() {
    let exe = env!("CARGO_BIN_EXE_ch06-choosing");
    let documented = [
        "--out",
        "--only",
        "--clients",
        "--messages",
        "--gap",
        "--fan-out-clients",
        "--rounds",
        "--fan-out-time",
        "--repeats",
        "--idle",
        "--interval",
        "serve",
    ];
    let why = "expected seconds between 0 and 3600";
    wire::process::assert_flags(exe, &["--gap", "soon"], why, &documented).await;
    let why = "expected a whole number of at least 1";
    wire::process::assert_flags(exe, &["--idle", "1000,0"], why, &documented).await;
}
