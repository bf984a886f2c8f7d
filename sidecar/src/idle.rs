//! Closing gRPC connections that stay idle: a connection on which no byte has moved either
//! way for the idle timeout is closed.
//!
//! **Key design decision:** tonic has no idle timeout of its own (HTTP/2 keepalive pings
//! find dead peers, not idle live ones), so the timeout is kept by the transport: each
//! accepted TCP stream is wrapped, every read or write that moves bytes pushes its deadline
//! back, and a read that is still waiting when the deadline passes fails with `TimedOut`,
//! which makes the server drop the connection. A call in progress keeps its connection
//! busy for at most the request timeout, which must be shorter than the idle timeout.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tonic::transport::server::Connected;

/// A stream closed (its reads fail) after `idle` without traffic.
pub struct IdleTimeout<S> {
    inner: S,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<S> IdleTimeout<S> {
    pub fn new(inner: S, idle: Duration) -> IdleTimeout<S> {
        IdleTimeout {
            inner,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
        }
    }

    fn active(&mut self) {
        let next = Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.active();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection idle for too long",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = written {
            if n > 0 {
                this.active();
            }
        }
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, data);
        if let Poll::Ready(Ok(n)) = written {
            if n > 0 {
                this.active();
            }
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl Connected for IdleTimeout<TcpStream> {
    type ConnectInfo = <TcpStream as Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn reads_fail_after_the_idle_time_and_traffic_pushes_it_back() {
        let (client, server) = tokio::io::duplex(64);
        let (mut client, mut server) = (client, IdleTimeout::new(server, Duration::from_secs(10)));
        let mut byte = [0u8; 1];
        // Traffic every 6 s (each under the idle time) for 30 s keeps it open.
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_secs(6)).await;
            client
                .write_all(b"x")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let read = server.read(&mut byte).await;
            assert_eq!(read.ok(), Some(1));
        }
        // Then nothing: the read fails once 10 s have passed, not before.
        let started = Instant::now();
        let error = server.read(&mut byte).await.err();
        assert_eq!(error.map(|e| e.kind()), Some(io::ErrorKind::TimedOut));
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }
}
