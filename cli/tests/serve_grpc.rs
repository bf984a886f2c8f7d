//! `rampart serve` over gRPC: Rampart's own `rampart.v1.Decisions` API driven by a real
//! tonic client, gRPC reflection (v1 and v1alpha), and malformed protobuf.

mod serve_support;

use prost::bytes::{Buf, BufMut};
use prost::Message;
use rampart_sidecar::proto::rampart::v1::decide_batch_result::Outcome;
use rampart_sidecar::proto::rampart::v1::decisions_client::DecisionsClient;
use rampart_sidecar::proto::rampart::v1::obligation::{Header, Kind as ObligationKind};
use rampart_sidecar::proto::rampart::v1::{
    DecideBatchRequest, DecideRequest, DecideResponse, Effect, Entity, HttpRequest,
};
use serve_support::{gateway_fixture, Sidecar};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::codegen::tokio_stream;
use tonic::transport::Channel;
use tonic::{Code, Status};

const DOCS_EDITOR: &str = "spiffe://corp/docs-editor";

async fn channel(sidecar: &Sidecar) -> Channel {
    Channel::from_shared(format!("http://{}", sidecar.grpc))
        .expect("a valid URI")
        .connect()
        .await
        .expect("connect to the gRPC listener")
}

fn entity(ty: &str, id: &str) -> Option<Entity> {
    Some(Entity {
        r#type: ty.into(),
        id: id.into(),
    })
}

/// `{"tls": {"mtls": true, "peer": PEER}}` as a protobuf Struct.
fn mtls_context(peer: &str) -> Option<prost_types::Struct> {
    use prost_types::value::Kind;
    let value = |kind| prost_types::Value { kind: Some(kind) };
    let tls = prost_types::Struct {
        fields: [
            ("mtls".to_owned(), value(Kind::BoolValue(true))),
            ("peer".to_owned(), value(Kind::StringValue(peer.into()))),
        ]
        .into_iter()
        .collect(),
    };
    Some(prost_types::Struct {
        fields: [("tls".to_owned(), value(Kind::StructValue(tls)))]
            .into_iter()
            .collect(),
    })
}

fn read_handbook() -> DecideRequest {
    DecideRequest {
        principal: entity("Service", DOCS_EDITOR),
        action: "docs:read".into(),
        resource: entity("Doc", "handbook"),
        ..DecideRequest::default()
    }
}

fn http_request(method: &str, path: &str, headers: &[(&str, &str)]) -> DecideRequest {
    DecideRequest {
        http: Some(HttpRequest {
            method: method.into(),
            path: path.into(),
            host: "api.local".into(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }),
        context: mtls_context(DOCS_EDITOR),
        ..DecideRequest::default()
    }
}

fn effect(response: &DecideResponse) -> Effect {
    let decision = response.decision.as_ref().expect("a decision");
    Effect::try_from(decision.effect).expect("a known effect")
}

fn revision(sidecar: &Sidecar) -> String {
    sidecar
        .ready_line
        .split_whitespace()
        .find_map(|part| part.strip_prefix("bundle="))
        .expect("a bundle revision in the ready line")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decide_answers_the_typed_decision_with_its_id_and_bundle_revision() {
    let sidecar = Sidecar::start(&gateway_fixture(), &[]);
    let mut client = DecisionsClient::new(channel(&sidecar).await);

    let allowed = client
        .decide(read_handbook())
        .await
        .expect("Decide answers")
        .into_inner();
    assert_eq!(effect(&allowed), Effect::Allow, "{allowed:?}");
    let decision = allowed.decision.as_ref().expect("a decision");
    assert_eq!(decision.rules, vec!["team-read".to_string()]);
    assert_eq!(
        decision.reasons,
        vec!["teams read their own documents".to_string()]
    );
    assert!(decision.errors.is_empty(), "{decision:?}");
    let kinds: Vec<&ObligationKind> = decision
        .obligations
        .iter()
        .filter_map(|o| o.kind.as_ref())
        .collect();
    assert!(kinds.contains(&&ObligationKind::RequestHeader(Header {
        name: "x-rampart-team".into(),
        value: "docs".into(),
    })));
    assert!(kinds.contains(&&ObligationKind::ResponseHeader(Header {
        name: "cache-control".into(),
        value: "no-store".into(),
    })));
    assert_eq!(allowed.decision_id.len(), 32, "{}", allowed.decision_id);
    assert_eq!(allowed.bundle_revision, revision(&sidecar));

    // The raw-HTTP form: the routes give action and resource, the mTLS peer the principal.
    let routed = client
        .decide(http_request("GET", "/docs/handbook", &[]))
        .await
        .expect("Decide answers")
        .into_inner();
    assert_eq!(effect(&routed), Effect::Allow, "{routed:?}");
    assert_ne!(routed.decision_id, allowed.decision_id);

    let frozen = client
        .decide(http_request(
            "PUT",
            "/docs/handbook?frozen=1",
            &[("x-change-ticket", "T-1")],
        ))
        .await
        .expect("Decide answers")
        .into_inner();
    assert_eq!(effect(&frozen), Effect::Deny);
    let decision = frozen.decision.as_ref().expect("a decision");
    assert_eq!(decision.rules, vec!["frozen".to_string()]);
    assert_eq!(decision.reasons, vec!["the document is frozen".to_string()]);
    assert!(decision.obligations.is_empty());

    // A request the engine cannot read is decided: deny, with the error listed.
    let unknown = client
        .decide(DecideRequest {
            action: "docs:burn".into(),
            ..read_handbook()
        })
        .await
        .expect("Decide answers")
        .into_inner();
    assert_eq!(effect(&unknown), Effect::Deny);
    let errors = &unknown.decision.as_ref().expect("a decision").errors;
    assert!(
        errors
            .iter()
            .any(|e| e.message.contains("unknown action `docs:burn`")),
        "{errors:?}"
    );

    // Every gRPC decision is counted under its own door.
    let metrics = sidecar.http("GET", "/metrics", &[], b"").text();
    assert!(
        metrics.contains("rampart_decisions_total{door=\"grpc\",effect=\"allow\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rampart_decisions_total{door=\"grpc\",effect=\"deny\"} 2"),
        "{metrics}"
    );
}

/// A request whose context holds a number JSON cannot carry.
fn batch_item_with_nan() -> DecideRequest {
    use prost_types::value::Kind;
    DecideRequest {
        context: Some(prost_types::Struct {
            fields: [(
                "ratio".to_owned(),
                prost_types::Value {
                    kind: Some(Kind::NumberValue(f64::NAN)),
                },
            )]
            .into_iter()
            .collect(),
        }),
        ..read_handbook()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decide_batch_decides_each_request_on_its_own() {
    let sidecar = Sidecar::start(&gateway_fixture(), &[]);
    let mut client = DecisionsClient::new(channel(&sidecar).await);
    let batch = DecideBatchRequest {
        requests: vec![
            read_handbook(),
            batch_item_with_nan(),
            DecideRequest {
                principal: entity("Service", "spiffe://corp/billing"),
                ..read_handbook()
            },
            http_request("GET", "/docs/handbook", &[]),
        ],
    };
    let results = client
        .decide_batch(batch)
        .await
        .expect("DecideBatch answers")
        .into_inner()
        .results;
    assert_eq!(results.len(), 4);
    let decided = |index: usize| match &results[index].outcome {
        Some(Outcome::Decided(decided)) => decided.clone(),
        other => panic!("item {index} was not decided: {other:?}"),
    };
    assert_eq!(effect(&decided(0)), Effect::Allow);
    match &results[1].outcome {
        Some(Outcome::Error(error)) => {
            assert_eq!(error.code, Code::InvalidArgument as i32);
            assert_eq!(
                error.message,
                "invalid `context.ratio`: a number must be finite, found `NaN`"
            );
        }
        other => panic!("item 1 should be an error: {other:?}"),
    }
    assert_eq!(effect(&decided(2)), Effect::Deny, "billing reads no docs");
    assert_eq!(effect(&decided(3)), Effect::Allow);
    let ids = [decided(0), decided(2), decided(3)].map(|d| d.decision_id);
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);

    // A single Decide with the same bad request is INVALID_ARGUMENT; an empty one is a deny.
    let status = client
        .decide(batch_item_with_nan())
        .await
        .expect_err("NaN has no JSON form");
    assert_eq!(status.code(), Code::InvalidArgument);
    let empty = client
        .decide(DecideRequest::default())
        .await
        .expect("an empty request is decided");
    assert_eq!(effect(empty.get_ref()), Effect::Deny);

    // Batches are bounded: counted before they are decoded (see also
    // `a_batch_of_millions_of_empty_items_is_refused_before_it_is_decoded`).
    let too_many = DecideBatchRequest {
        requests: vec![read_handbook(); rampart_sidecar::MAX_BATCH_REQUESTS + 1],
    };
    let status = client
        .decide_batch(too_many)
        .await
        .expect_err("more requests than a batch holds");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(
        status.message(),
        "a batch holds at most 256 requests, found more"
    );
    let empty = client
        .decide_batch(DecideBatchRequest::default())
        .await
        .expect("an empty batch answers");
    assert!(empty.get_ref().results.is_empty());
}

/// The names `ListServices` answers, through reflection v1.
async fn list_services_v1(channel: Channel) -> Vec<String> {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("reflection v1 answers")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("a reflection answer")
        .expect("one answer");
    match answer.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("not a service list: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_v1_and_v1alpha_describe_the_decision_api() {
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;

    let sidecar = Sidecar::start(&gateway_fixture(), &[]);
    let services = list_services_v1(channel(&sidecar).await).await;
    for name in [
        "rampart.v1.Decisions",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(services.iter().any(|s| s == name), "{name} in {services:?}");
    }

    // v1alpha (what grpcurl 1.8 speaks): the file defining the service, with its methods.
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(
            "rampart.v1.Decisions".into(),
        )),
    };
    let mut answers = ServerReflectionClient::new(channel(&sidecar).await)
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("reflection v1alpha answers")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("a reflection answer")
        .expect("one answer");
    let files = match answer.message_response {
        Some(MessageResponse::FileDescriptorResponse(files)) => files.file_descriptor_proto,
        other => panic!("not a file descriptor answer: {other:?}"),
    };
    let file = files
        .iter()
        .map(|bytes| prost_types::FileDescriptorProto::decode(bytes.as_slice()))
        .collect::<Result<Vec<_>, _>>()
        .expect("file descriptors decode")
        .into_iter()
        .find(|f| f.package() == "rampart.v1")
        .expect("the rampart.v1 file");
    assert_eq!(file.name(), "rampart/v1/decisions.proto");
    let service = file
        .service
        .iter()
        .find(|s| s.name() == "Decisions")
        .expect("the Decisions service");
    let methods: Vec<&str> = service.method.iter().map(|m| m.name()).collect();
    assert_eq!(methods, vec!["Decide", "DecideBatch", "Plan"]);
}

/// A codec that sends and receives bytes as they are: to send what no client would.
#[derive(Clone, Copy, Default)]
struct RawBytes;

impl Codec for RawBytes {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawBytes;
    type Decoder = RawBytes;

    fn encoder(&mut self) -> RawBytes {
        RawBytes
    }

    fn decoder(&mut self) -> RawBytes {
        RawBytes
    }
}

impl Encoder for RawBytes {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawBytes {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut bytes = vec![0; src.remaining()];
        src.copy_to_slice(&mut bytes);
        Ok(Some(bytes))
    }
}

async fn send_raw(
    sidecar: &Sidecar,
    method: &'static str,
    body: Vec<u8>,
) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel(sidecar).await);
    grpc.ready().await.expect("the channel is ready");
    grpc.unary(
        tonic::Request::new(body),
        PathAndQuery::from_static(method),
        RawBytes,
    )
    .await
    .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_protobuf_are_grpc_errors_and_the_server_keeps_serving() {
    let sidecar = Sidecar::start(&gateway_fixture(), &[]);
    // Field 1 (principal, a message) announcing 127 bytes that never come.
    for method in [
        "/rampart.v1.Decisions/Decide",
        "/rampart.v1.Decisions/DecideBatch",
    ] {
        let status = send_raw(&sidecar, method, vec![0x0a, 0x7f, 0x01])
            .await
            .expect_err("malformed protobuf is refused");
        assert_eq!(status.code(), Code::Internal, "{status:?}");
        assert!(status.message().contains("decode"), "{status:?}");
    }
    // Wrong wire type for a string field (action, field 2, as a varint).
    let status = send_raw(&sidecar, "/rampart.v1.Decisions/Decide", vec![0x10, 0x01])
        .await
        .expect_err("a wire type mismatch is refused");
    assert_eq!(status.code(), Code::Internal, "{status:?}");

    // A message over the 4 MiB limit.
    let mut big = read_handbook();
    big.package = "x".repeat(rampart_sidecar::MAX_GRPC_MESSAGE_BYTES + 1);
    let status = send_raw(
        &sidecar,
        "/rampart.v1.Decisions/Decide",
        big.encode_to_vec(),
    )
    .await
    .expect_err("an oversized message is refused");
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");

    // The same bytes framed right are decided.
    let answer = send_raw(
        &sidecar,
        "/rampart.v1.Decisions/Decide",
        read_handbook().encode_to_vec(),
    )
    .await
    .expect("a well-formed request is decided");
    let decided = DecideResponse::decode(answer.as_slice()).expect("a DecideResponse");
    assert_eq!(effect(&decided), Effect::Allow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_rate_limit_is_a_deny_saying_when_to_retry() {
    let sidecar = Sidecar::start(
        &serve_support::repo().join("cli/tests/fixtures/ratelimit"),
        &[],
    );
    let mut client = DecisionsClient::new(channel(&sidecar).await);
    let page = http_request("GET", "/limited/home", &[]);
    let page = DecideRequest {
        context: None,
        ..page
    };
    for _ in 0..2 {
        let allowed = client.decide(page.clone()).await.expect("Decide answers");
        assert_eq!(effect(allowed.get_ref()), Effect::Allow);
        assert_eq!(allowed.get_ref().rate_limited, None);
    }
    let limited = client
        .decide(page)
        .await
        .expect("Decide answers")
        .into_inner();
    assert_eq!(effect(&limited), Effect::Deny);
    let rate_limited = limited.rate_limited.expect("the limit that denied");
    assert_eq!(rate_limited.rule, "page-rate");
    assert_eq!((rate_limited.limit, rate_limited.per_s), (2, 60));
    assert!(
        (1..=60).contains(&rate_limited.retry_after_s),
        "{rate_limited:?}"
    );
    let decision = limited.decision.expect("a decision");
    assert_eq!(decision.rules, vec!["page-rate".to_string()]);
}

/// A `kB` figure of `/proc/PID/status` (`VmHWM`: peak resident memory, `VmRSS`: now).
#[cfg(target_os = "linux")]
fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{field}` in /proc/{pid}/status"))
}

/// Finding F15: a `DecideBatch` message of millions of empty items (`0a 00`, repeated) was
/// decoded whole before its items were counted: 2.4 s and 1.27 GB for one 4 MiB message.
/// Now it is refused from its size or its item count before any item is decoded, three at
/// once stay within a few MiB of the sidecar's peak so far, and a batch at the cap works.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_millions_of_empty_items_is_refused_before_it_is_decoded() {
    let sidecar = Sidecar::start(&gateway_fixture(), &[]);
    let mut client = DecisionsClient::new(channel(&sidecar).await);

    // The baseline: a batch at the cap, decided (twice, so the allocator is warm).
    let at_cap = DecideBatchRequest {
        requests: vec![read_handbook(); rampart_sidecar::MAX_BATCH_REQUESTS],
    };
    let mut baseline = std::time::Duration::MAX;
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let results = client
            .decide_batch(at_cap.clone())
            .await
            .expect("a batch at the cap is decided")
            .into_inner()
            .results;
        baseline = baseline.min(started.elapsed());
        assert_eq!(results.len(), rampart_sidecar::MAX_BATCH_REQUESTS);
        for result in &results {
            match &result.outcome {
                Some(Outcome::Decided(decided)) => assert_eq!(effect(decided), Effect::Allow),
                other => panic!("an item was not decided: {other:?}"),
            }
        }
    }
    let pid = sidecar.pid();
    let (peak_before, rss_before) = (proc_kib(pid, "VmHWM"), proc_kib(pid, "VmRSS"));

    // The reproduction (4,194,000 bytes), three at once, and the same trick inside the
    // size cap (1,000,000 bytes: 500,000 items).
    let attack = [0x0a_u8, 0x00].repeat(2_097_000);
    let small_attack = [0x0a_u8, 0x00].repeat(500_000);
    let started = std::time::Instant::now();
    let method = "/rampart.v1.Decisions/DecideBatch";
    let (a, b, c, d) = tokio::join!(
        send_raw(&sidecar, method, attack.clone()),
        send_raw(&sidecar, method, attack.clone()),
        send_raw(&sidecar, method, attack),
        send_raw(&sidecar, method, small_attack),
    );
    let took = started.elapsed();
    let (peak_after, rss_after) = (proc_kib(pid, "VmHWM"), proc_kib(pid, "VmRSS"));
    eprintln!(
        "batch at the cap: {baseline:?}; four attacks: {took:?}; peak RSS {peak_before} kB -> \
         {peak_after} kB; RSS {rss_before} kB -> {rss_after} kB"
    );
    for status in [a, b, c] {
        let status = status.expect_err("the reproduction is refused");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert_eq!(
            status.message(),
            "a `DecideBatch` message holds at most 1048576 bytes, found 4194000"
        );
    }
    let status = d.expect_err("500,000 items are refused");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(
        status.message(),
        "a batch holds at most 256 requests, found more"
    );
    // Refusing costs about what sending the bytes does: far less than the old decode, and
    // within a generous multiple of deciding a batch at the cap.
    assert!(
        took < baseline * 20 + std::time::Duration::from_millis(500),
        "refusing took {took:?}, a batch at the cap {baseline:?}"
    );
    // Three 4 MiB messages are buffered (12 MiB); nothing is decoded from them.
    let grown = peak_after.saturating_sub(peak_before);
    assert!(
        grown < 64 * 1024,
        "the peak grew by {grown} kB (from {peak_before} kB)"
    );

    // The sidecar still serves.
    let allowed = client
        .decide(read_handbook())
        .await
        .expect("Decide answers");
    assert_eq!(effect(allowed.get_ref()), Effect::Allow);
}
