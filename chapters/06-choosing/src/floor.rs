//! The floor: a TCP broadcaster with no protocol at all.
//!
//! Every line a connection sends is written to every other connection,
//! as it is. No request, no header, no framing beyond the line feed:
//! what it costs is the least that any technique can cost to get the
//! same bytes to the same sockets with the same runtime (tokio).

use std::future::Future;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

type Line = (u64, Arc<[u8]>);

/// Serves the floor on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()>) {
    // A slow reader that falls 1024 lines behind is dropped, as the
    // chapters' servers drop or reset theirs.
    let (lines, _) = broadcast::channel::<Line>(1024);
    let mut next = 0u64;
    // The chapters' own accept loop: it waits after a failed accept
    // instead of spinning, and costs the floor what it costs them.
    chat::server::accept(&listener, shutdown, |stream, _peer| {
        next += 1;
        let (tx, rx) = (lines.clone(), lines.subscribe());
        tokio::spawn(connection(next, stream, tx, rx));
    })
    .await;
}

// ANCHOR: floor
async fn connection(
    me: u64,
    stream: TcpStream,
    tx: broadcast::Sender<Line>,
    mut rx: broadcast::Receiver<Line>,
) {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut incoming = BufReader::new(read).lines();
    loop {
        tokio::select! {
            line = incoming.next_line() => {
                let Ok(Some(line)) = line else { return };
                let mut bytes = line.into_bytes();
                bytes.push(b'\n');
                let _ = tx.send((me, bytes.into()));
            }
            line = rx.recv() => {
                let Ok((from, bytes)) = line else { return };
                if from != me && write.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        }
    }
}
// ANCHOR_END: floor
