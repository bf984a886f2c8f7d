//! The gRPC service of the Check door: `envoy.service.auth.v3.Authorization`, as the
//! service `envoy-types` generates, but with a codec that hands the handler the message's
//! bytes ([`CheckView::parse`](super::CheckView::parse) reads them) instead of a decoded
//! `CheckRequest`, and sends the bytes of the `CheckResponse` as the handler wrote them
//! ([`check_response_bytes`](super::check_response_bytes)); the message size limit,
//! compression (none) and the error of an unknown method are the generated service's.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use prost::bytes::{Buf as _, BufMut as _, Bytes};
use tonic::body::Body;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{http, BoxFuture, Service, StdError};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::Status;

use crate::state::State;

/// The path of the one method.
const CHECK_PATH: &str = "/envoy.service.auth.v3.Authorization/Check";

/// The Check door's gRPC service.
#[derive(Clone)]
pub struct CheckServer {
    state: Arc<State>,
    max_decoding_message_size: usize,
}

impl CheckServer {
    /// Serves Checks on `state`; messages larger than `max_decoding_message_size` bytes
    /// are refused (`RESOURCE_EXHAUSTED`) before they are read.
    pub fn new(state: Arc<State>, max_decoding_message_size: usize) -> CheckServer {
        CheckServer {
            state,
            max_decoding_message_size,
        }
    }
}

impl NamedService for CheckServer {
    const NAME: &'static str = "envoy.service.auth.v3.Authorization";
}

impl<B> Service<http::Request<B>> for CheckServer
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != CHECK_PATH {
            return Box::pin(async move {
                let mut response = http::Response::new(Body::default());
                let headers = response.headers_mut();
                headers.insert(
                    Status::GRPC_STATUS,
                    (tonic::Code::Unimplemented as i32).into(),
                );
                headers.insert(
                    http::header::CONTENT_TYPE,
                    tonic::metadata::GRPC_CONTENT_TYPE,
                );
                Ok(response)
            });
        }
        let method = CheckMethod(Arc::clone(&self.state));
        let limit = self.max_decoding_message_size;
        Box::pin(async move {
            let mut grpc = Grpc::new(CheckCodec).apply_max_message_size_config(Some(limit), None);
            Ok(grpc.unary(method, request).await)
        })
    }
}

/// The Check method: the message's bytes in, the encoded answer out.
struct CheckMethod(Arc<State>);

impl UnaryService<Bytes> for CheckMethod {
    type Response = Vec<u8>;
    type Future = BoxFuture<tonic::Response<Vec<u8>>, Status>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let state = Arc::clone(&self.0);
        Box::pin(async move {
            let message = request.into_inner();
            super::decide_message(&state, &message)
                .await
                .map(tonic::Response::new)
        })
    }
}

/// Decodes a request to its bytes; the answer is already the bytes of a `CheckResponse`.
#[derive(Debug, Clone, Copy, Default)]
struct CheckCodec;

impl Codec for CheckCodec {
    type Encode = Vec<u8>;
    type Decode = Bytes;
    type Encoder = CheckCodec;
    type Decoder = CheckCodec;

    fn encoder(&mut self) -> Self::Encoder {
        CheckCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        CheckCodec
    }
}

impl Encoder for CheckCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for CheckCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
