//! Binding the listeners, running the gRPC and HTTP servers, and stopping them gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::codegen::tokio_stream::StreamExt as _;
use tonic::transport::server::TcpIncoming;

use crate::auth::{ApiKeyConfig, ApiKeysError, Authenticator, JwksError, JwtConfig};
use crate::decision_log::ship::ShipOptions;
use crate::decision_log::{DecisionLog, LogOptions, OpenError};
use crate::decisions::{BatchLimit, DecisionApi};
use crate::ext_authz::CheckServer;
use crate::forward_auth::ForwardAuth;
use crate::idle::IdleTimeout;
use crate::proto::rampart::v1::decisions_server::DecisionsServer;
use crate::ratelimit::{RateLimiter, SharedLimiter, StoreConfig, StoreError};
use crate::reload::Reload;
use crate::state::{Policy, State};
use crate::tls::{ListenerTls, TlsError, TlsFiles};
use crate::{MAX_GRPC_MESSAGE_BYTES, MAX_HEADER_BYTES};

/// How long requests in flight may take to finish once shutdown has begun.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long the runtime waits for blocking work (a reload's reads) once serving stopped.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(1);

/// Where to listen and what to record.
#[derive(Debug, Clone)]
pub struct Config {
    /// The gRPC listener (ext_authz, health).
    pub grpc: SocketAddr,
    /// The HTTP listener (decision API, forward-auth, OPA API, health, metrics).
    pub http: SocketAddr,
    /// Append one JSON line per decision to this file.
    pub decision_log: Option<PathBuf>,
    /// Rotation, fsync policy and whether the decision log is required.
    pub decision_log_options: LogOptions,
    /// The instance id every record carries, and the sinks the log is shipped to.
    pub decision_log_shipping: ShipOptions,
    /// Hot reload of the policy; `None`: the policy given at start serves until exit.
    pub reload: Option<Reload>,
    /// TLS on both listeners (mTLS with a client CA); `None` serves plaintext.
    pub tls: Option<TlsFiles>,
    /// The longest a request may take on either listener, once its head is in; also
    /// bounds TLS handshakes.
    pub request_timeout: Duration,
    /// The longest an HTTP client may take to send a request head, and so the longest a
    /// keep-alive connection may stay idle.
    pub header_read_timeout: Duration,
    /// The longest a gRPC connection may stay without traffic before it is closed; longer
    /// than `request_timeout`.
    pub grpc_idle_timeout: Duration,
    /// Verify `Authorization: Bearer` tokens against a JWKS file; `None`: tokens are ignored.
    pub jwt: Option<JwtConfig>,
    /// Verify API keys against the hashes of this file (`--api-keys`); `None`: ignored.
    pub api_keys: Option<ApiKeyConfig>,
    /// The most rate-limit buckets kept (`--rate-limit-keys`); 0 leaves `rate_limit`
    /// obligations unenforced.
    pub rate_limit_keys: usize,
    /// Count `rate_limit` obligations in this Redis, shared by every replica
    /// (`--rate-limit-store`); `None`: each replica counts on its own.
    pub rate_limit_store: Option<StoreConfig>,
    /// Where forward-auth reads the request being authorized (`--forward-auth`).
    pub forward_auth: ForwardAuth,
}

/// What a sidecar that is ready to serve listens on.
#[derive(Debug, Clone)]
pub struct Ready {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    /// The revision of the bundle being served.
    pub revision: String,
}

/// Why the sidecar could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on `{addr}` for {what}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the decision log `{path}`: {source}")]
    DecisionLog {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot ship the decision log `{path}`: {source}")]
    DecisionLogShipping {
        path: String,
        source: crate::decision_log::ship::ShipError,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen for SIGHUP: {0}")]
    Signal(std::io::Error),
    #[error("the {what} server failed: {message}")]
    Server { what: &'static str, message: String },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot set up gRPC reflection: {0}")]
    Reflection(String),
    #[error(transparent)]
    Jwks(#[from] JwksError),
    #[error(transparent)]
    ApiKeys(#[from] ApiKeysError),
    #[error(transparent)]
    RateLimitStore(#[from] StoreError),
}

/// A sidecar with its listeners bound, not yet serving.
pub struct Sidecar {
    state: Arc<State>,
    grpc: TcpListener,
    http: TcpListener,
    tls: Option<Arc<ListenerTls>>,
    request_timeout: Duration,
    header_read_timeout: Duration,
    grpc_idle_timeout: Duration,
}

impl Sidecar {
    /// Opens the decision log and binds both listeners (port 0 picks a free port). Must
    /// be called inside a tokio runtime.
    pub async fn bind(config: &Config, policy: Policy) -> Result<Sidecar, ServeError> {
        let log = match &config.decision_log {
            Some(path) => Some(
                DecisionLog::open_shipped(
                    path,
                    config.decision_log_options,
                    &config.decision_log_shipping,
                )
                .map_err(|error| {
                    let path = path.display().to_string();
                    match error {
                        OpenError::Io(source) => ServeError::DecisionLog { path, source },
                        OpenError::Ship(source) => ServeError::DecisionLogShipping { path, source },
                    }
                })?,
            ),
            None => None,
        };
        let bind = |what: &'static str, addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Bind { what, addr, source })
        };
        let tls = match &config.tls {
            Some(files) => Some(Arc::new(ListenerTls::load(files, config.request_timeout)?)),
            None => None,
        };
        // The certificate, key and client CA reload when their files change, watched like
        // the policy's files.
        if let (Some(tls), Some(reload)) = (&tls, &config.reload) {
            if let Some(interval) = reload.watch_interval {
                tokio::spawn(crate::tls::watch(
                    Arc::clone(tls),
                    interval,
                    reload.watch_settle,
                ));
            }
        }
        let auth = match &config.jwt {
            Some(jwt) => Authenticator::load(jwt.clone())?,
            None => Authenticator::disabled(),
        };
        let auth = match &config.api_keys {
            Some(keys) => auth.with_api_keys(keys.clone())?,
            None => auth,
        };
        // A remote key set is fetched once before the sidecar is ready.
        auth.start().await;
        let grpc = bind("gRPC", config.grpc).await?;
        let http = bind("HTTP", config.http).await?;
        let state = State::new(policy, log)
            .with_auth(auth)
            .with_forward_auth(config.forward_auth.clone())
            .with_decision_timeout(config.request_timeout);
        let mut state = match &config.rate_limit_store {
            Some(store) => state
                .with_shared_limiter(SharedLimiter::start(store, config.rate_limit_keys).await?),
            None => state.with_rate_limiter(
                (config.rate_limit_keys > 0).then(|| RateLimiter::new(config.rate_limit_keys)),
            ),
        };
        state.metrics.tls = tls.clone();
        Ok(Sidecar {
            state: crate::reload::start(state, config.reload.as_ref())?,
            grpc,
            http,
            tls,
            request_timeout: config.request_timeout,
            header_read_timeout: config.header_read_timeout,
            grpc_idle_timeout: config.grpc_idle_timeout,
        })
    }

    /// The bound addresses and the bundle revision.
    pub fn ready(&self) -> Ready {
        let local = |listener: &TcpListener, fallback: SocketAddr| {
            listener.local_addr().unwrap_or(fallback)
        };
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        Ready {
            grpc: local(&self.grpc, unspecified),
            http: local(&self.http, unspecified),
            revision: self.state.policy().revision().to_owned(),
        }
    }

    /// Serves until `shutdown` completes (or a server fails), then stops accepting, lets
    /// requests in flight finish for a few seconds, and writes out the decision log.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let Sidecar {
            state,
            grpc,
            http,
            tls,
            request_timeout,
            header_read_timeout,
            grpc_idle_timeout,
        } = self;
        let (stop, stopped) = watch::channel(false);
        let stopped_grpc = stopped.clone();
        let http_tls = tls.clone();

        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<CheckServer>().await;
        health.set_serving::<DecisionsServer<DecisionApi>>().await;
        let authorization = CheckServer::new(Arc::clone(&state), MAX_GRPC_MESSAGE_BYTES);
        let decisions = BatchLimit::new(
            DecisionsServer::new(DecisionApi::new(Arc::clone(&state)))
                .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES),
        );
        let reflection_error =
            |e: tonic_reflection::server::Error| ServeError::Reflection(e.to_string());
        let reflection_v1 = crate::decisions::reflection()
            .build_v1()
            .map_err(reflection_error)?;
        let reflection_v1alpha = crate::decisions::reflection()
            .build_v1alpha()
            .map_err(reflection_error)?;
        let grpc_router = tonic::transport::Server::builder()
            .timeout(request_timeout)
            .http2_max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX))
            .add_service(health_service)
            .add_service(authorization)
            .add_service(decisions)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);
        let grpc_server = async move {
            match &tls {
                // The listener's own handshakes, so that a new certificate is used at once.
                Some(tls) => {
                    grpc_router
                        .serve_with_incoming_shutdown(
                            crate::tls::grpc_incoming(grpc, Arc::clone(tls), grpc_idle_timeout),
                            wait_for_stop(stopped_grpc),
                        )
                        .await
                }
                None => {
                    grpc_router
                        .serve_with_incoming_shutdown(
                            TcpIncoming::from(grpc)
                                .with_nodelay(Some(true))
                                .map(move |accepted| {
                                    accepted
                                        .map(|stream| IdleTimeout::new(stream, grpc_idle_timeout))
                                }),
                            wait_for_stop(stopped_grpc),
                        )
                        .await
                }
            }
        };
        let mut grpc_task = tokio::spawn(grpc_server);

        let http_server = crate::http_server::serve(
            http,
            crate::http::router(Arc::clone(&state)),
            crate::http_server::HttpLimits {
                tls: http_tls,
                request_timeout,
                header_read_timeout,
            },
            wait_for_stop(stopped),
        );
        let mut http_task = tokio::spawn(http_server);

        let mut failure = None;
        let (mut grpc_done, mut http_done) = (false, false);
        tokio::select! {
            () = shutdown => {}
            result = &mut grpc_task => {
                grpc_done = true;
                failure = Some(("gRPC", task_error(result)));
            }
            result = &mut http_task => {
                http_done = true;
                failure = Some(("HTTP", task_error(result)));
            }
        }

        state.begin_shutdown();
        health.set_not_serving::<CheckServer>().await;
        health
            .set_not_serving::<DecisionsServer<DecisionApi>>()
            .await;
        health
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
        let _ = stop.send(true);
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            if !grpc_done {
                let _ = (&mut grpc_task).await;
            }
            if !http_done {
                let _ = (&mut http_task).await;
            }
        })
        .await;
        if drained.is_err() {
            grpc_task.abort();
            http_task.abort();
        }
        state.close_log();
        match failure {
            Some((what, Some(message))) => Err(ServeError::Server { what, message }),
            _ => Ok(()),
        }
    }
}

/// Runs a sidecar on a multi-threaded tokio runtime until SIGINT or SIGTERM. `on_ready` is
/// called once both listeners are bound.
pub fn serve(
    config: Config,
    policy: Policy,
    on_ready: impl FnOnce(&Ready),
) -> Result<(), ServeError> {
    serve_until(config, policy, on_ready, shutdown_signal)
}

/// [`serve`] until the future `shutdown` makes (inside the runtime) completes.
fn serve_until<F: Future<Output = ()>>(
    config: Config,
    policy: Policy,
    on_ready: impl FnOnce(&Ready),
    shutdown: impl FnOnce() -> F,
) -> Result<(), ServeError> {
    quiet_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("rampart-serve")
        .build()
        .map_err(ServeError::Runtime)?;
    let result = runtime.block_on(async {
        let sidecar = Sidecar::bind(&config, policy).await?;
        let shutdown = shutdown();
        on_ready(&sidecar.ready());
        sidecar.run(shutdown).await
    });
    // A reload stuck in a read that never returns holds a blocking thread; dropping the
    // runtime would wait for it forever and the process would outlive SIGTERM.
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    result
}

/// Installs the no-op `tracing` dispatcher, unless the process has one already.
///
/// h2, hyper and tower open `tracing` spans on every stream and poll; `tracing` is built
/// with its `log` feature (another dependency asks for it), and while no dispatcher is set
/// each of those disabled spans still records its fields for the `log` crate, which nobody
/// listens to here. With a dispatcher that wants nothing, every such span is a no-op.
fn quiet_tracing() {
    // An error means a dispatcher is set already: then that one decides.
    let _ = tracing_core::dispatcher::set_global_default(tracing_core::Dispatch::none());
}

/// Completes when the stop flag is raised (or its sender is gone).
async fn wait_for_stop(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// The error message of a server task that ended, if it ended with one.
fn task_error<E: std::fmt::Display>(
    result: Result<Result<(), E>, tokio::task::JoinError>,
) -> Option<String> {
    match result {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(error) => Some(error.to_string()),
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled, so a signal sent right after the ready
/// line stops the sidecar cleanly instead of killing it.
fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |stream: Option<tokio::signal::unix::Signal>| async move {
                match stream {
                    Some(mut stream) => {
                        stream.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {}
                () = wait(terminate) => {}
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reload::{PolicyLoader, Reload};
    use std::io::Write;
    use std::sync::mpsc;
    use std::time::Instant;

    fn policy() -> Policy {
        crate::reload::tests::policy("r0")
    }

    fn config(reload: Option<Reload>) -> Config {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Config {
            grpc: any,
            http: any,
            decision_log: None,
            decision_log_options: LogOptions::default(),
            decision_log_shipping: ShipOptions::default(),
            reload,
            tls: None,
            request_timeout: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(30),
            grpc_idle_timeout: Duration::from_secs(300),
            jwt: None,
            api_keys: None,
            rate_limit_keys: 0,
            rate_limit_store: None,
            forward_auth: ForwardAuth::Off,
        }
    }

    /// Runs a sidecar on a thread of its own; returns its HTTP address, the sender that
    /// stops it and the receiver of its end.
    fn start(
        reload: Option<Reload>,
    ) -> (
        SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        mpsc::Receiver<Instant>,
    ) {
        let (ready, address) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ended, end) = mpsc::channel();
        std::thread::spawn(move || {
            let result = serve_until(
                config(reload),
                policy(),
                |r| {
                    let _ = ready.send(r.http);
                },
                move || async move {
                    let _ = stopped.await;
                },
            );
            assert!(result.is_ok(), "{result:?}");
            let _ = ended.send(Instant::now());
        });
        let http = address
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("the sidecar did not start"));
        (http, stop, end)
    }

    /// Stops the sidecar and returns how long it took to end (`None`: not within
    /// `limit`).
    fn stop_within(
        stop: tokio::sync::oneshot::Sender<()>,
        end: &mpsc::Receiver<Instant>,
        limit: Duration,
    ) -> Option<Duration> {
        let asked = Instant::now();
        let _ = stop.send(());
        end.recv_timeout(limit)
            .ok()
            .map(|at| at.saturating_duration_since(asked))
    }

    #[test]
    fn a_reload_stuck_in_a_read_does_not_keep_the_process_from_stopping() {
        // Baseline: a sidecar that stops with nothing in flight.
        let (_, stop, end) = start(None);
        let baseline = stop_within(stop, &end, Duration::from_secs(30))
            .unwrap_or_else(|| panic!("an idle sidecar did not stop"));

        // A loader that never returns, like a read of a file nobody writes.
        let (entered, loading) = mpsc::channel();
        let (release, wait) = mpsc::channel::<()>();
        let wait = std::sync::Mutex::new(wait);
        let loader: PolicyLoader = Arc::new(move || {
            let _ = entered.send(());
            let _ = wait.lock().map(|w| w.recv());
            Err("released".to_owned())
        });
        let reload = Reload {
            timeout: Duration::from_secs(600),
            watch_interval: None,
            ..Reload::new(loader, Vec::new())
        };
        let (http, stop, end) = start(Some(reload));
        std::thread::spawn(move || {
            if let Ok(mut stream) = std::net::TcpStream::connect(http) {
                let _ = stream
                    .write_all(b"POST /v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
                let _ = std::io::Read::read_to_end(&mut stream, &mut Vec::new());
            }
        });
        loading
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("the reload did not start"));
        let bound = baseline + SHUTDOWN_GRACE + Duration::from_secs(10);
        let took = stop_within(stop, &end, bound);
        let _ = release.send(());
        let Some(took) = took else {
            panic!("the sidecar did not stop within {bound:?} while a reload was stuck");
        };
        assert!(took < bound, "{took:?} (baseline {baseline:?})");
    }
}
