//! At most [`MAX_CONCURRENT_BATCHES`] `DecideBatch` calls at once.
//!
//! The limit wraps the generated `Decisions` server, so a call waits for its turn before
//! its message is read: a waiting call holds no decoded message, only what HTTP/2 flow
//! control lets the client send ahead. The permit is held while the message is read,
//! decoded and decided, and released when the answer is ready.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;
use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tonic::codegen::{BoxFuture, Service};
use tonic::server::NamedService;
use tonic::Status;

use super::MAX_CONCURRENT_BATCHES;

/// The path of the method the limit applies to.
const DECIDE_BATCH: &str = "/rampart.v1.Decisions/DecideBatch";

/// A `Decisions` server whose `DecideBatch` calls run at most
/// [`MAX_CONCURRENT_BATCHES`] at once.
#[derive(Debug, Clone)]
pub struct BatchLimit<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

impl<S> BatchLimit<S> {
    pub fn new(inner: S) -> BatchLimit<S> {
        BatchLimit {
            inner,
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT_BATCHES)),
        }
    }
}

impl<S: NamedService> NamedService for BatchLimit<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<Request<Body>> for BatchLimit<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Response<Body>, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if request.uri().path() != DECIDE_BATCH {
            return Box::pin(self.inner.call(request));
        }
        // The inner service was polled ready; the clone waits for the permit.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let permits = Arc::clone(&self.permits);
        Box::pin(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return Ok(Status::unavailable("the sidecar is shutting down").into_http());
            };
            inner.call(request).await
        })
    }
}
