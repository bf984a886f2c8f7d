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

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use tonic::body::Body;
    use tonic::codegen::http::{Request, Response};
    use tonic::codegen::{BoxFuture, Service};

    use super::{BatchLimit, DECIDE_BATCH, MAX_CONCURRENT_BATCHES};

    /// Answers after a pause, recording the most calls it had in flight at once.
    #[derive(Clone, Default)]
    struct Probe {
        active: Arc<AtomicUsize>,
        most: Arc<AtomicUsize>,
    }

    impl Service<Request<Body>> for Probe {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = BoxFuture<Response<Body>, Infallible>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<Body>) -> Self::Future {
            let probe = self.clone();
            Box::pin(async move {
                let now = probe.active.fetch_add(1, Ordering::SeqCst) + 1;
                probe.most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                probe.active.fetch_sub(1, Ordering::SeqCst);
                Ok(Response::new(Body::empty()))
            })
        }
    }

    /// The most calls to `path` in flight at once when 12 are made together.
    async fn most_at_once(path: &str) -> usize {
        let probe = Probe::default();
        let limit = BatchLimit::new(probe.clone());
        let calls = (0..12).map(|_| {
            let mut limit = limit.clone();
            let request = Request::builder()
                .uri(path)
                .body(Body::empty())
                .unwrap_or_default();
            tokio::spawn(async move { limit.call(request).await })
        });
        for call in calls.collect::<Vec<_>>() {
            assert!(matches!(call.await, Ok(Ok(_))));
        }
        probe.most.load(Ordering::SeqCst)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_run_at_most_four_at_once_and_other_calls_are_not_held() {
        assert_eq!(most_at_once(DECIDE_BATCH).await, MAX_CONCURRENT_BATCHES);
        assert_eq!(most_at_once("/rampart.v1.Decisions/Decide").await, 12);
    }
}
