//! An Envoy ext_authz server that answers OK to every `Check` without deciding anything:
//! the baseline of `scripts/sidecar-load.sh`.
//!
//! It runs on the same stack as `rampart serve` (tokio's multi-threaded runtime, tonic,
//! the `envoy-types` service, `TCP_NODELAY`), so the sidecar's throughput divided by this
//! one's is what deciding, mapping and logging cost on top of the gRPC stack itself.
//!
//! ```sh
//! cargo run --release -p rampart-sidecar --example empty_ext_authz -- 127.0.0.1:0
//! # empty_ext_authz: ready grpc=127.0.0.1:40331
//! ```
//!
//! It serves until it is killed (SIGINT or SIGTERM end it at once: there is nothing to
//! write out).

use std::net::SocketAddr;
use std::process::ExitCode;

use envoy_types::ext_authz::v3::pb::{
    Authorization, AuthorizationServer, CheckRequest, CheckResponse, HttpResponse, OkHttpResponse,
};
use envoy_types::pb::google::rpc;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

/// The address listened on when none is given.
const DEFAULT_ADDR: &str = "127.0.0.1:9292";

/// Allows everything: `status` OK and an empty `ok_response`, as an allow without header
/// obligations looks to Envoy.
struct AllowEverything;

#[tonic::async_trait]
impl Authorization for AllowEverything {
    async fn check(
        &self,
        _request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        Ok(tonic::Response::new(CheckResponse {
            status: Some(rpc::Status::default()),
            http_response: Some(HttpResponse::OkResponse(OkHttpResponse::default())),
            dynamic_metadata: None,
        }))
    }
}

fn main() -> ExitCode {
    let text = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let addr: SocketAddr = match text.parse() {
        Ok(addr) => addr,
        Err(_) => {
            eprintln!("empty_ext_authz: `{text}` is not an address (IP:PORT)");
            return ExitCode::from(2);
        }
    };
    match serve(addr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("empty_ext_authz: {message}");
            ExitCode::from(2)
        }
    }
}

/// Binds `addr`, prints the ready line, and serves until the process is stopped.
fn serve(addr: SocketAddr) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("empty-ext-authz")
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on `{addr}`: {e}"))?;
        let bound = listener.local_addr().unwrap_or(addr);
        println!("empty_ext_authz: ready grpc={bound}");
        tonic::transport::Server::builder()
            .add_service(AuthorizationServer::new(AllowEverything))
            .serve_with_incoming(TcpIncoming::from(listener).with_nodelay(Some(true)))
            .await
            .map_err(|e| format!("the gRPC server failed: {e}"))
    })
}
