//! What tungstenite's write buffer does with a batch of frames: the
//! chapter's `write_buffer_size` of 8 KiB against 0.
//! The socket writes to a connection that only counts its writes.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use ch04_websocket::upgrade::socket_config;
use ch04_websocket::Config;
use futures_util::SinkExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// A connection that takes every byte at once and counts the calls
/// that write them. Nothing is ever read from it.
struct Counting {
    writes: Arc<AtomicUsize>,
    bytes: Arc<AtomicUsize>,
}

impl AsyncWrite for Counting {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.bytes.fetch_add(buf.len(), Ordering::SeqCst);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Counting {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Pending
    }
}

/// Feeds three text frames, flushes once, and counts the writes and
/// the bytes that reached the connection.
async fn writes_for(config: WebSocketConfig) -> (usize, usize) {
    let writes = Arc::new(AtomicUsize::new(0));
    let bytes = Arc::new(AtomicUsize::new(0));
    let io = Counting {
        writes: writes.clone(),
        bytes: bytes.clone(),
    };
    let mut socket =
        WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    for text in ["one", "two", "three"] {
        socket.feed(Message::text(text)).await.unwrap();
    }
    socket.flush().await.unwrap();
    (writes.load(Ordering::SeqCst), bytes.load(Ordering::SeqCst))
}

// ANCHOR: write_buffer
#[tokio::test]
async fn a_batch_of_frames_is_one_write() {
    // Three frames of 2 bytes of header and 3, 3 and 5 bytes of text.
    let all = 2 + 3 + 2 + 3 + 2 + 5;
    // The chapter's choice: the frames wait in the buffer, and the
    // flush writes them together.
    let chapter = writes_for(socket_config(&Config::default())).await;
    assert_eq!(chapter, (1, all));
    // A write buffer of 0: one write per frame, as soon as it is fed.
    let eager = writes_for(WebSocketConfig::default().write_buffer_size(0)).await;
    assert_eq!(eager, (3, all));
}
// ANCHOR_END: write_buffer
