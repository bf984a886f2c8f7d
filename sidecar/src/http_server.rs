//! Serving the HTTP router: HTTP/1.1 over TCP or TLS, with the listener's limits.
//!
//! axum's own `serve` has no TLS and no knobs, so connections are driven here with hyper:
//! a request head larger than [`MAX_HEADER_BYTES`] answers 431; a client that has not sent
//! a whole request head within the header-read timeout is disconnected (slow clients
//! cannot hold connections open; hyper counts an idle keep-alive connection as waiting for
//! a head, so it is closed after that time too); a TLS handshake gets the request timeout;
//! and a request not answered within the request timeout (a body trickling in) answers
//! 408. None of these is ever an allow.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::http::error_response;
use crate::{MAX_HEADER_BYTES, MAX_HEADER_LINES};

/// How long to pause accepting after an error that is not about one connection (too many
/// open files, say), so that the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// TLS and time limits of the HTTP listener.
pub struct HttpLimits {
    /// TLS on the listener (the configuration in use when a connection is accepted);
    /// `None`: plaintext.
    pub tls: Option<std::sync::Arc<crate::tls::ListenerTls>>,
    /// The longest a TLS handshake, and a request once its head is in, may take.
    pub request_timeout: Duration,
    /// The longest a client may take to send a request head (or stay idle between two).
    pub header_read_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and
/// waits for the open connections to finish their requests (the caller bounds the wait).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Infallible> {
    let HttpLimits {
        tls,
        request_timeout,
        header_read_timeout,
    } = limits;
    let router = router.layer(middleware::from_fn(move |request: Request, next: Next| {
        answer_within(request_timeout, request, next)
    }));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_header_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADER_LINES);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    if !is_connection_error(&error) {
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            http: http.clone(),
            service: TowerToHyperService::new(router.clone()),
        };
        let watcher = graceful.watcher();
        let tls = tls.as_ref().map(|tls| tls.http());
        tokio::spawn(async move {
            match tls {
                None => {
                    let _ = watcher.watch(connection.serve(stream)).await;
                }
                Some(acceptor) => {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(request_timeout, acceptor.accept(stream)).await
                    {
                        let _ = watcher.watch(connection.serve(stream)).await;
                    }
                    // A failed or slow handshake just closes the connection.
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// What serving one connection needs.
struct Connection {
    http: http1::Builder,
    service: TowerToHyperService<Router>,
}

impl Connection {
    fn serve<S>(self, stream: S) -> http1::Connection<TokioIo<S>, TowerToHyperService<Router>>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        self.http
            .serve_connection(TokioIo::new(stream), self.service)
    }
}

/// Answers 408 when the request (reading its body included) takes longer than `limit`.
async fn answer_within(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error_response(
            StatusCode::REQUEST_TIMEOUT,
            &format!("request not complete within {} ms", limit.as_millis()),
        ),
    }
}

/// Errors about one connection (the client went away before it was accepted).
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}
