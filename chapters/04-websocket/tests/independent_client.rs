//! A second, independent WebSocket implementation talks to the
//! server: Python's `websockets` package (not tungstenite, which the
//! server uses). Install it with `pip install websockets`. Without
//! Python or the package the test says so and passes; on CI
//! (`CI=true`) it fails instead.

use std::time::Duration;

use ch04_websocket::{serve, Config};
use wire::TestServer;

const SCRIPT: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/python_client.py");

/// Whether `python3 -c "import websockets"` works.
async fn python_websockets() -> bool {
    let probe = tokio::process::Command::new("python3")
        .args(["-c", "import websockets.asyncio.client"])
        .output()
        .await;
    matches!(probe, Ok(out) if out.status.success())
}

#[tokio::test]
async fn python_websockets_client_chats() {
    if !python_websockets().await {
        let why = "python3 with the `websockets` package (13 or newer) is \
                   missing: pip install websockets";
        if std::env::var_os("CI").is_some_and(|v| v == "true") {
            panic!("{why}");
        }
        eprintln!("skipped: {why}");
        return;
    }
    let server = TestServer::start(|listener, shutdown| {
        serve(listener, Config::default(), shutdown)
    })
    .await;
    let base = format!("ws://{}", server.addr());
    let run = tokio::process::Command::new("python3")
        .arg(SCRIPT)
        .arg(&base)
        .kill_on_drop(true)
        .output();
    // A bound on a hang, not a speed.
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the Python client hung")
        .expect("run python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python failed: {stderr}");
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["subprotocol"], "chat.v1");
    assert_eq!(seen["echo"]["id"], 1);
    assert_eq!(seen["echo"]["text"], "hello from python");
    assert!(seen["error"]["error"]
        .as_str()
        .unwrap()
        .starts_with("invalid JSON"));
    assert_eq!(seen["pong"], true);
    assert_eq!(seen["close_code"], 1000);
    assert_eq!(seen["replay"]["id"], 1);
    assert_eq!(seen["too_big"], 1009);
    assert!(server.stop(Duration::from_secs(10)).await);
}
