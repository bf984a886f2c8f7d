//! Binding the listeners, running the gRPC and HTTP servers, and stopping them gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use envoy_types::ext_authz::v3::pb::AuthorizationServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::server::TcpIncoming;

use crate::decision_log::DecisionLog;
use crate::ext_authz::ExtAuthz;
use crate::state::{Policy, State};
use crate::MAX_GRPC_MESSAGE_BYTES;

/// How long requests in flight may take to finish once shutdown has begun.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where to listen and what to record.
#[derive(Debug, Clone)]
pub struct Config {
    /// The gRPC listener (ext_authz, health).
    pub grpc: SocketAddr,
    /// The HTTP listener (decision API, forward-auth, OPA API, health, metrics).
    pub http: SocketAddr,
    /// Append one JSON line per decision to this file.
    pub decision_log: Option<PathBuf>,
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
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the {what} server failed: {message}")]
    Server { what: &'static str, message: String },
}

/// A sidecar with its listeners bound, not yet serving.
pub struct Sidecar {
    state: Arc<State>,
    grpc: TcpListener,
    http: TcpListener,
}

impl Sidecar {
    /// Opens the decision log and binds both listeners (port 0 picks a free port). Must
    /// be called inside a tokio runtime.
    pub async fn bind(config: &Config, policy: Policy) -> Result<Sidecar, ServeError> {
        let log = match &config.decision_log {
            Some(path) => {
                Some(
                    DecisionLog::open(path).map_err(|source| ServeError::DecisionLog {
                        path: path.display().to_string(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let bind = |what: &'static str, addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Bind { what, addr, source })
        };
        let grpc = bind("gRPC", config.grpc).await?;
        let http = bind("HTTP", config.http).await?;
        Ok(Sidecar {
            state: Arc::new(State::new(policy, log)),
            grpc,
            http,
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
        let Sidecar { state, grpc, http } = self;
        let (stop, stopped) = watch::channel(false);

        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<AuthorizationServer<ExtAuthz>>().await;
        let authorization = AuthorizationServer::new(ExtAuthz::new(Arc::clone(&state)))
            .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES);
        let grpc_server = tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(authorization)
            .serve_with_incoming_shutdown(
                TcpIncoming::from(grpc).with_nodelay(Some(true)),
                wait_for_stop(stopped.clone()),
            );
        let mut grpc_task = tokio::spawn(grpc_server);

        let http_server = axum::serve(http, crate::http::router(Arc::clone(&state)))
            .with_graceful_shutdown(wait_for_stop(stopped));
        let mut http_task = tokio::spawn(async move { http_server.await });

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
        health
            .set_not_serving::<AuthorizationServer<ExtAuthz>>()
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("rampart-serve")
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async {
        let sidecar = Sidecar::bind(&config, policy).await?;
        on_ready(&sidecar.ready());
        sidecar.run(shutdown_signal()).await
    })
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

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
