//! The codec of `rampart.v1`: prost, with what a request message may cost checked on its
//! bytes before it is decoded ([`wire`](super::wire)).
//!
//! `build.rs` names [`DecisionsCodec`] as the codec of the `Decisions` service, so the
//! generated server decodes every request through [`BoundedDecoder`].

use std::marker::PhantomData;

use prost::bytes::Buf;
use prost::Message;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::ProstEncoder;

use super::wire::{self, Exceeded, Limits, Shape};
use super::{MAX_BATCH_MESSAGE_BYTES, MAX_BATCH_REQUESTS, MAX_MESSAGE_FIELDS};
use crate::proto::rampart::v1::{
    DecideBatchRequest, DecideBatchResponse, DecideRequest, DecideResponse, PlanRequest,
    PlanResponse,
};

/// A message the codec decodes, with the bounds of its bytes (none for the responses a
/// client decodes).
pub trait Bounded: Message + Default {
    /// The method, for error messages, its shape and its limits.
    const BOUNDS: Option<(&'static str, Shape, Limits)>;
}

impl Bounded for DecideRequest {
    const BOUNDS: Option<(&'static str, Shape, Limits)> = Some((
        "Decide",
        Shape::Request,
        Limits {
            max_bytes: crate::MAX_GRPC_MESSAGE_BYTES,
            max_fields: MAX_MESSAGE_FIELDS,
            max_items: usize::MAX,
        },
    ));
}

impl Bounded for DecideBatchRequest {
    const BOUNDS: Option<(&'static str, Shape, Limits)> = Some((
        "DecideBatch",
        Shape::Batch,
        Limits {
            max_bytes: MAX_BATCH_MESSAGE_BYTES,
            max_fields: MAX_MESSAGE_FIELDS,
            max_items: MAX_BATCH_REQUESTS,
        },
    ));
}

impl Bounded for PlanRequest {
    const BOUNDS: Option<(&'static str, Shape, Limits)> = Some((
        "Plan",
        Shape::Plan,
        Limits {
            max_bytes: crate::MAX_GRPC_MESSAGE_BYTES,
            max_fields: MAX_MESSAGE_FIELDS,
            max_items: usize::MAX,
        },
    ));
}

impl Bounded for PlanResponse {
    const BOUNDS: Option<(&'static str, Shape, Limits)> = None;
}

impl Bounded for DecideResponse {
    const BOUNDS: Option<(&'static str, Shape, Limits)> = None;
}

impl Bounded for DecideBatchResponse {
    const BOUNDS: Option<(&'static str, Shape, Limits)> = None;
}

/// prost encoding; decoding through [`BoundedDecoder`].
#[derive(Debug, Clone)]
pub struct DecisionsCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for DecisionsCodec<T, U> {
    fn default() -> Self {
        DecisionsCodec(PhantomData)
    }
}

impl<T, U> Codec for DecisionsCodec<T, U>
where
    T: Message + Send + 'static,
    U: Bounded + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = BoundedDecoder<U>;

    fn encoder(&mut self) -> ProstEncoder<T> {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> BoundedDecoder<U> {
        BoundedDecoder(PhantomData)
    }
}

/// Checks a message's bytes against its bounds, then decodes it with prost.
#[derive(Debug)]
pub struct BoundedDecoder<U>(PhantomData<U>);

impl<U: Bounded> Decoder for BoundedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let decoded = match U::BOUNDS {
            None => U::decode(src),
            // tonic hands over the message in one contiguous buffer; copy it if not.
            Some(bounds) if src.chunk().len() == src.remaining() => {
                refuse(bounds, src.chunk())?;
                U::decode(src)
            }
            Some(bounds) => {
                let bytes = src.copy_to_bytes(src.remaining());
                refuse(bounds, &bytes)?;
                U::decode(bytes)
            }
        };
        // As tonic's own prost codec answers a message it cannot decode.
        decoded
            .map(Some)
            .map_err(|error| Status::internal(error.to_string()))
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// `RESOURCE_EXHAUSTED` when `bytes` exceed the bounds of their method.
fn refuse(
    (method, shape, limits): (&'static str, Shape, Limits),
    bytes: &[u8],
) -> Result<(), Status> {
    wire::check(shape, bytes, limits).map_err(|exceeded| {
        Status::resource_exhausted(match exceeded {
            Exceeded::Bytes(found) => format!(
                "a `{method}` message holds at most {} bytes, found {found}",
                limits.max_bytes
            ),
            Exceeded::Items => {
                format!("a batch holds at most {MAX_BATCH_REQUESTS} requests, found more")
            }
            Exceeded::Fields => format!(
                "a `{method}` message holds at most {} fields, found more",
                limits.max_fields
            ),
        })
    })
}
