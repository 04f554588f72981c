//! `--write-timeout`: a write that waits too long ends the connection.
//!
//! A stream's server writes and never reads, so it learns that a
//! client is gone only from a write. A write that fails is easy: the
//! peer closed, and the kernel says so. But a client that stops
//! reading and never closes (a frozen tab, a laptop that lost its
//! network) makes no write fail for a long time. The kernel takes the
//! bytes into its send buffer, and the write returns at once. When the
//! buffers are full, the next write just waits. TCP itself gives up on
//! a peer that answers nothing only after about 15 minutes, and never
//! on a peer whose kernel still answers with a closed window (chapter
//! 3, "A client that is gone"). So the server sets its own limit.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{sleep, Sleep};

// ANCHOR: deadline
/// A connection whose writes may wait at most `limit` each.
pub struct WriteDeadline<T> {
    inner: T,
    limit: Option<Duration>,
    /// Runs while a write waits: set when the kernel's buffer is full,
    /// cleared as soon as the kernel takes bytes again.
    waiting: Option<Pin<Box<Sleep>>>,
}

impl<T> WriteDeadline<T> {
    /// `None`: no limit, the writes may wait for ever.
    pub fn new(inner: T, limit: Option<Duration>) -> Self {
        WriteDeadline {
            inner,
            limit,
            waiting: None,
        }
    }

    /// Called when the inner write is not ready. The error makes hyper
    /// close the connection; the stream's slot is then free.
    fn wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let Some(limit) = self.limit else {
            return Poll::Pending;
        };
        let timer = self.waiting.get_or_insert_with(|| Box::pin(sleep(limit)));
        ready!(timer.as_mut().poll(cx));
        let why = format!("a write waited {limit:?}: the peer reads nothing");
        Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, why))
    }
}
// ANCHOR_END: deadline

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(done) => {
                self.waiting = None;
                Poll::Ready(done)
            }
            Poll::Pending => self.wait(cx).map(Err),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(done) => {
                self.waiting = None;
                Poll::Ready(done)
            }
            Poll::Pending => self.wait(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::Instant;

    /// A pipe whose other end never reads: the 64-byte buffer fills,
    /// and the next write fails after the limit, not never.
    #[tokio::test]
    async fn a_write_that_waits_past_the_limit_fails() {
        let (near, _far) = tokio::io::duplex(64);
        let limit = Duration::from_millis(200);
        let mut conn = WriteDeadline::new(near, Some(limit));
        conn.write_all(&[0; 64]).await.unwrap();
        let start = Instant::now();
        let err = conn.write_all(b"one more").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(start.elapsed() >= limit);
    }

    /// A reader that is slow, but reads, resets the clock each time:
    /// ten reads 100 ms apart never let one write wait 2 s.
    #[tokio::test]
    async fn a_slow_reader_is_not_a_dead_one() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut conn = WriteDeadline::new(near, Some(Duration::from_secs(2)));
        let reader = tokio::spawn(async move {
            let mut buf = [0; 64];
            let mut total = 0;
            while total < 640 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                total += far.read(&mut buf).await.unwrap();
            }
        });
        conn.write_all(&[0; 640]).await.unwrap();
        reader.await.unwrap();
    }
}
