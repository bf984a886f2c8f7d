//! Command-line arguments. These structs only parse; each command module decides what
//! they mean.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "rampart",
    version,
    about = "Policy-as-code for API security: check, test, evaluate and build Rampart policies"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, type-check and lint policy folders
    Check(CheckArgs),
    /// Report the security lints (L0xx) of policy folders, and the errors that stop them
    Lint(CheckArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(CompletionsArgs),
    /// Format policy files canonically
    Fmt(FmtArgs),
    /// Decide one request and print the decision JSON
    Eval(EvalArgs),
    /// Which resources of a type may the principal act on: a query plan (docs/plan.md)
    Plan(PlanArgs),
    /// Run the `test` blocks of policy folders
    Test(TestArgs),
    /// Compile a policy folder into a bundle file
    Build(BuildArgs),
    /// Print the documentation of a diagnostic or lint code (E005, L001, …)
    Explain(ExplainArgs),
    /// Time a policy folder on your own requests: median, p99, allocations per decision
    Bench(BenchArgs),
    /// Run the decision sidecar: Envoy ext_authz (gRPC), decision API and forward-auth (HTTP)
    Serve(Box<ServeArgs>),
    /// Work with decision logs written by `rampart serve`
    Log(LogArgs),
    /// Report which controls of each compliance framework the policy set enforces
    Compliance(ComplianceArgs),
    /// Work with the API keys of `rampart serve --api-keys`
    Apikey(ApikeyArgs),
    /// Sign, verify and make keys for bundles (`docs/bundles.md`)
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Push a bundle (and its .sig) or entity data to an OCI registry as an artifact
    Push(PushArgs),
    /// Translate policies of another language into a Rampart policy folder
    #[command(subcommand)]
    Import(ImportCommand),
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Translate Cedar policies, their schema and entity data (docs/cedar.md)
    Cedar(ImportCedarArgs),
}

#[derive(Debug, Args)]
pub struct ImportCedarArgs {
    /// Cedar policies (`.cedar` text)
    pub policies: PathBuf,
    /// The Cedar schema: Cedar schema text (`.cedarschema`) or its JSON form (`.json`)
    #[arg(long)]
    pub schema: PathBuf,
    /// Cedar entity data (JSON), written as DIR/entities.json
    #[arg(long)]
    pub entities: Option<PathBuf>,
    /// The folder to write; it must not exist or be empty
    #[arg(short = 'o', long = "out")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ApikeyArgs {
    #[command(subcommand)]
    pub command: ApikeyCommand,
}

#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Print the SHA-256 (hex) of the API key read from standard input, for the `sha256`
    /// field of an --api-keys record (surrounding whitespace is not part of the key)
    Hash,
}

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Check a bundle's detached signature (FILE.sig) with a public key; exit 1 if refused
    Verify(BundleVerifyArgs),
    /// Write a new Ed25519 key pair: PREFIX.key (PKCS#8 PEM, mode 0600) and PREFIX.pub
    Keygen(BundleKeygenArgs),
    /// Sign a file (a bundle or entity data) with a private key: writes FILE.sig
    Sign(BundleSignArgs),
}

#[derive(Debug, Args)]
pub struct BundleVerifyArgs {
    /// The bundle file (or entity file)
    pub bundle: PathBuf,
    /// Public key (SPKI PEM); repeat to accept any of several keys
    #[arg(long = "key", value_name = "PUB", required = true)]
    pub keys: Vec<PathBuf>,
    /// The signature file (default: BUNDLE.sig)
    #[arg(long, value_name = "SIG")]
    pub signature: Option<PathBuf>,
    /// The largest bundle accepted, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = rampart_bundle::DEFAULT_MAX_BUNDLE_BYTES)]
    pub max_bundle_bytes: u64,
}

#[derive(Debug, Args)]
pub struct BundleKeygenArgs {
    /// Writes PREFIX.key and PREFIX.pub (never over existing files)
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct BundleSignArgs {
    /// The file to sign (its exact bytes)
    pub file: PathBuf,
    /// Private key (PKCS#8 PEM)
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// The revision written in the signed manifest (default: the bundle's revision, or
    /// for any other file the first 12 hex digits of its SHA-256)
    #[arg(long, value_name = "REV")]
    pub revision: Option<String>,
}

/// How to reach an OCI registry or HTTPS server (`rampart push`, `rampart serve`).
#[derive(Debug, Args, Clone)]
pub struct OutboundArgs {
    /// Extra CA certificates (PEM) trusted for every outbound HTTPS connection (registry,
    /// bundle and key servers, log sinks), besides the system's roots
    #[arg(long, value_name = "FILE")]
    pub outbound_ca: Option<PathBuf>,
    /// Talk plain HTTP to the registry or bundle server even when it is not on loopback
    /// (loopback registries always use plain HTTP, as Docker does)
    #[arg(long)]
    pub plain_http: bool,
    /// Registry user name (or env RAMPART_REGISTRY_USERNAME); anonymous without one
    #[arg(long, value_name = "NAME")]
    pub registry_username: Option<String>,
    /// File holding the registry password (or env RAMPART_REGISTRY_PASSWORD); never on
    /// the command line
    #[arg(long, value_name = "FILE")]
    pub registry_password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The bundle file (its FILE.sig is pushed too when present), or entity data with
    /// --entities
    pub file: PathBuf,
    /// oci://HOST:PORT/REPOSITORY:TAG (the port is optional)
    pub destination: String,
    /// FILE is entity data (artifact application/vnd.rampart.entities.v1)
    #[arg(long)]
    pub entities: bool,
    /// Push without a signature even when FILE.sig is missing (refused otherwise)
    #[arg(long)]
    pub unsigned: bool,
    #[command(flatten)]
    pub outbound: OutboundArgs,
    /// The longest the push may take
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Human,
    Json,
    /// SARIF 2.1.0 (GitHub code scanning and other static-analysis viewers)
    Sarif,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Policy folders (or single .rampart files)
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Output format of the diagnostics
    #[arg(long, value_enum, default_value = "human")]
    pub format: CheckFormat,
    /// Treat warnings (lints) as failures
    #[arg(long)]
    pub deny_warnings: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print the completion script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Files or folders to format; `-` reads standard input and writes standard output
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Do not write: list the files that are not formatted and exit 1 if there are any
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Policy folder
    pub dir: PathBuf,
    /// Request JSON file, or `-` for standard input
    #[arg(long)]
    pub request: PathBuf,
    /// Entity JSON file (default: entities.json in the folder, when present)
    #[arg(long)]
    pub entities: Option<PathBuf>,
    /// Also show, for every rule the index selected, whether it applied and why
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Policy folder
    pub dir: PathBuf,
    /// Plan request JSON file (`resource` is `{"type": "T"}`), or `-` for standard input
    #[arg(long)]
    pub request: PathBuf,
    /// Entity JSON file (default: entities.json in the folder, when present)
    #[arg(long)]
    pub entities: Option<PathBuf>,
    /// Also translate the plan into a parameterised SQL query with this mapping of entity
    /// types to tables (TOML; docs/plan.md)
    #[arg(long, value_name = "MAPPING")]
    pub sql: Option<PathBuf>,
    /// The SQL dialect of --sql
    #[arg(long, value_enum, default_value = "postgres", requires = "sql")]
    pub dialect: SqlDialect,
}

/// The SQL dialects of `rampart plan --sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqlDialect {
    Postgres,
    Sqlite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    Human,
    Junit,
    /// One JSON report: every test with its outcome, and a summary
    Json,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Policy folders
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Output format: human lines, a JUnit XML report or a JSON report on standard output
    #[arg(long, value_enum, default_value = "human")]
    pub format: TestFormat,
}

/// What `rampart build` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BuildTarget {
    /// The bundle file (versioned JSON) the engine, the sidecar and the wasm module load
    Bundle,
    /// One self-contained WebAssembly module: the engine, the bundle and the entities
    /// (docs/wasm.md)
    Wasm,
    /// A proxy-wasm filter for Envoy (ABI 0.2.1): the engine, the bundle and the entities
    /// (docs/wasm.md, "The proxy-wasm filter")
    ProxyWasm,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Policy folder
    pub dir: PathBuf,
    /// Where to write the bundle (or the module); default `bundle.json`, or `policy.wasm`
    /// and `filter.wasm` for the wasm targets, in the current folder
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// What to build
    #[arg(long, value_enum, default_value = "bundle")]
    pub target: BuildTarget,
    /// Entity JSON file to embed in a module (default: entities.json in the folder, when
    /// present)
    #[arg(long, value_name = "FILE")]
    pub entities: Option<PathBuf>,
    /// Sign the bundle with this Ed25519 private key (PKCS#8 PEM): writes OUTPUT.sig
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A code such as E005 or L001
    pub code: String,
    /// Output format: the documentation as text, or a JSON object (code, kind, name,
    /// severity, summary, docs, url)
    #[arg(long, value_enum, default_value = "human")]
    pub format: ExplainFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Policy folder
    pub dir: PathBuf,
    /// Requests: a JSON array, one JSON object, or JSON Lines; `-` for standard input
    #[arg(long)]
    pub requests: PathBuf,
    /// Entity JSON file (default: entities.json in the folder, when present)
    #[arg(long)]
    pub entities: Option<PathBuf>,
    /// How long to keep deciding, in milliseconds
    #[arg(long, default_value_t = 2000)]
    pub millis: u64,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    pub format: BenchFormat,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("key_source").args(["jwks", "jwks_url", "oidc_issuer"])))]
pub struct ServeArgs {
    /// Policy folder, or a bundle file written by `rampart build` (or `policy` in --config)
    pub path: PathBuf,
    /// Read flags from this TOML file: keys are the long flag names (`decision_log`,
    /// `jwt_issuer = [..]`, `no_watch = true`), `policy` is PATH; the command line wins
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// gRPC listener: Envoy ext_authz v3 and grpc.health.v1 (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9191")]
    pub grpc: SocketAddr,
    /// HTTP listener: /v1/decide, /v1/authz, /v1/data, /healthz, /readyz, /metrics
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8181")]
    pub http: SocketAddr,
    /// Entity JSON file (default: entities.json in the policy folder, when present)
    #[arg(long, value_name = "FILE")]
    pub entities: Option<PathBuf>,
    /// Append one JSON line per decision to this file
    #[arg(long, value_name = "FILE")]
    pub decision_log: Option<PathBuf>,
    /// Rotate the decision log before it grows past this size (`10M`, `512K`, bytes)
    #[arg(long, value_name = "SIZE", requires = "decision_log", value_parser = parse_size)]
    pub decision_log_max_bytes: Option<u64>,
    /// Rotated decision-log files kept (FILE.1 … FILE.N); older ones are deleted
    #[arg(
        long,
        value_name = "N",
        default_value_t = 5,
        requires = "decision_log_max_bytes"
    )]
    pub decision_log_keep: usize,
    /// When written decision-log records are made durable (fdatasync): `never` (the OS
    /// writes them back), `interval` (every --decision-log-fsync-interval), `always`
    /// (after every batch, about one a millisecond under load)
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value = "interval",
        requires = "decision_log"
    )]
    pub decision_log_fsync: DecisionLogFsync,
    /// How often `--decision-log-fsync interval` syncs (`1s`, `200ms`)
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "1s",
        value_parser = parse_timeout,
        requires = "decision_log"
    )]
    pub decision_log_fsync_interval: std::time::Duration,
    /// Deny every decision, and answer 503 on /readyz, while decision-log records cannot be
    /// written (a full disk); without it decisions go on and the records lost are counted
    #[arg(long, requires = "decision_log")]
    pub decision_log_required: bool,
    /// Ship the decision log to this sink too: `syslog+tls://HOST:PORT` (RFC 5424 over TLS),
    /// `https://HOST/PATH` (gzip JSON batches, OPA's decision-log upload API), or, to a
    /// loopback address only, `syslog+tcp://` and `http://`; repeat for several
    #[arg(
        long = "decision-log-sink",
        value_name = "URL",
        requires = "decision_log"
    )]
    pub decision_log_sinks: Vec<rampart_sidecar::SinkUrl>,
    /// The form records are shipped in: `rampart` (syslog: the chained line itself; HTTP:
    /// OPA decision-log events) or `ocsf` (OCSF API Activity events, class 6003)
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        default_value = "rampart",
        requires = "decision_log_sinks"
    )]
    pub decision_log_format: DecisionLogFormat,
    /// An HTTP sink's batch is sent once it holds this many bytes of records (`1M`, `256K`)
    #[arg(long, value_name = "SIZE", default_value = "1M", value_parser = parse_size)]
    pub decision_log_batch_bytes: u64,
    /// …or once its first record has waited this long (`1s`, `200ms`)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_timeout)]
    pub decision_log_batch_interval: std::time::Duration,
    /// The most record bytes a sink holds in memory or sent but not yet confirmed; records
    /// beyond wait in the decision-log file (`16M`)
    #[arg(long, value_name = "SIZE", default_value = "16M", value_parser = parse_size)]
    pub decision_log_sink_buffer: u64,
    /// This replica's name, carried in every decision-log record (and as the syslog
    /// HOSTNAME and OPA labels.id); default: the host name
    #[arg(long, value_name = "ID", value_parser = parse_instance_id)]
    pub instance_id: Option<String>,
    /// Do not watch the policy, bundle and entities files for changes (SIGHUP and
    /// POST /v1/reload still reload)
    #[arg(long)]
    pub no_watch: bool,
    /// How often the watched files are checked for changes (`1s`, `250ms`)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_timeout)]
    pub watch_interval: std::time::Duration,
    /// How long changed files must stay the same (sizes, times and contents) before they
    /// are reloaded; a writer pausing longer than this is read half-way, so deploy by
    /// writing a temporary file and renaming it (`2s`, `500ms`)
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_timeout)]
    pub watch_settle: std::time::Duration,
    /// The longest a reload may take to read and compile the files before it fails and the
    /// old policy keeps serving (`30s`, `500ms`)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub reload_timeout: std::time::Duration,
    /// The share of the entities (percent) a reload may remove; a reload removing more is
    /// refused and the old entities keep serving (100: no limit)
    #[arg(
        long,
        value_name = "PERCENT",
        default_value_t = 50,
        value_parser = clap::value_parser!(u8).range(0..=100)
    )]
    pub max_entity_shrink: u8,
    /// Serve both listeners over TLS with this certificate chain (PEM, leaf first)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates issued by this CA (PEM) on both listeners (mTLS)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// The longest a request may take once its head is in (`5s`, `500ms`); also bounds TLS
    /// handshakes
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_timeout)]
    pub request_timeout: std::time::Duration,
    /// The longest an HTTP client may take to send a request head, and so the longest an
    /// idle keep-alive connection is kept
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub header_read_timeout: std::time::Duration,
    /// The longest a gRPC connection may stay without traffic before it is closed; longer
    /// than --request-timeout (`300s`)
    #[arg(long, value_name = "DURATION", default_value = "300s", value_parser = parse_timeout)]
    pub grpc_idle_timeout: std::time::Duration,
    /// Verify `Authorization: Bearer` JWTs (RS256, ES256, EdDSA) against this JWKS file;
    /// verified claims fill context.auth
    #[arg(long, value_name = "FILE")]
    pub jwks: Option<PathBuf>,
    /// Verify bearer JWTs against the JWKS published at this https:// address, fetched
    /// and kept current in the background (see --jwks-min-refresh …)
    #[arg(long, value_name = "URL")]
    pub jwks_url: Option<String>,
    /// Verify bearer JWTs against the keys of this OpenID Connect issuer (discovery:
    /// ISSUER/.well-known/openid-configuration names the JWKS); it is also the only
    /// accepted `iss` unless --jwt-issuer says otherwise
    #[arg(long, value_name = "URL")]
    pub oidc_issuer: Option<String>,
    /// The shortest time between two scheduled fetches of the remote key set, whatever
    /// its Cache-Control max-age says (`60s`, `5m`)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_interval)]
    pub jwks_min_refresh: std::time::Duration,
    /// The longest time between two scheduled fetches of the remote key set (`1h`)
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_interval)]
    pub jwks_max_refresh: std::time::Duration,
    /// How long the last fetched key set stays in use while fetches fail; past it every
    /// bearer token is unauthenticated until a fetch succeeds (`24h`)
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_interval)]
    pub jwks_max_stale: std::time::Duration,
    /// The shortest time between two refetches of the remote key set asked for by
    /// tokens naming an unknown `kid` (`10s`)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_interval)]
    pub jwks_refetch_interval: std::time::Duration,
    /// The longest one fetch of the remote key set (discovery included) may take (`10s`)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_interval)]
    pub jwks_fetch_timeout: std::time::Duration,
    /// Accept tokens of this issuer (`iss`) only; repeat for several
    #[arg(long = "jwt-issuer", value_name = "ISS", requires = "key_source")]
    pub jwt_issuers: Vec<String>,
    /// Accept tokens for this audience (`aud`) only; repeat for several
    #[arg(long = "jwt-audience", value_name = "AUD", requires = "key_source")]
    pub jwt_audiences: Vec<String>,
    /// Verify API keys against this JSON file of key hashes (see docs/sidecar.md); a
    /// verified key fills context.auth with method api_key
    #[arg(long, value_name = "FILE")]
    pub api_keys: Option<PathBuf>,
    /// The request header carrying the API key
    #[arg(
        long,
        value_name = "NAME",
        default_value = "x-api-key",
        requires = "api_keys"
    )]
    pub api_key_header: String,
    /// Clock skew allowed on `exp`, `nbf` and `iat` (`60s`, `2m`; at most `5m`)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_leeway)]
    pub jwt_leeway: std::time::Duration,
    /// The context.auth.method of a verified token
    #[arg(long, value_enum, value_name = "METHOD", default_value = "jwt")]
    pub jwt_method: JwtMethod,
    /// The most rate-limit keys tracked at once (idle and then least recently used keys are
    /// forgotten first); 0 returns `rate_limit` obligations without enforcing them
    #[arg(long, value_name = "N", default_value_t = rampart_sidecar::DEFAULT_RATE_LIMIT_KEYS)]
    pub rate_limit_keys: usize,
    /// Count rate limits in this Redis, shared by every replica: redis://HOST:PORT[/DB],
    /// rediss://HOST:PORT[/DB] (TLS) or redis+unix:///PATH (a local socket)
    #[arg(long, value_name = "URL")]
    pub rate_limit_store: Option<String>,
    /// Trust only this CA (PEM) for a rediss:// store, instead of the system's roots
    #[arg(long, value_name = "FILE", requires = "rate_limit_store")]
    pub rate_limit_store_ca: Option<PathBuf>,
    /// The longest one round trip to the store may take before the check falls back
    /// (`50ms`; at most `10s`)
    #[arg(long, value_name = "DURATION", default_value = "50ms", value_parser = parse_store_timeout)]
    pub rate_limit_store_timeout: std::time::Duration,
    /// Prepended to every key in the store, so that several fleets can share one Redis
    #[arg(long, value_name = "PREFIX", default_value = rampart_sidecar::DEFAULT_RATE_LIMIT_PREFIX)]
    pub rate_limit_prefix: String,
    /// While the store cannot be reached: `local` decides with this replica's own buckets,
    /// `closed` denies (429) every request that has a rate_limit obligation
    #[arg(long, value_enum, value_name = "MODE", default_value = "local")]
    pub rate_limit_fail: RateLimitFail,
    /// The gateway in front of /v1/authz, which says where the original request is read:
    /// nginx (X-Original-Method/-URI/-Host), traefik and apisix (X-Forwarded-Method/-Uri/
    /// -Host), envoy (the request line), or headers:METHOD,URI (optionally ,HOST); without
    /// it /v1/authz denies every request
    #[arg(long, value_name = "MODE", default_value = "off")]
    pub forward_auth: rampart_sidecar::ForwardAuth,
    /// Public key (SPKI PEM) that verifies a remote bundle's (and entities') signature;
    /// repeat during a key rotation: any listed key verifies
    #[arg(long = "verify-key", value_name = "PUB")]
    pub verify_keys: Vec<PathBuf>,
    /// Accept a remote bundle without a signature (a signature present must still
    /// verify); prints a warning at start
    #[arg(long)]
    pub insecure_unsigned: bool,
    /// How often a remote bundle (oci:// or https://) is polled for a new revision (a
    /// random 0-10% is added to each wait)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub poll_interval: std::time::Duration,
    /// The longest one fetch of a remote bundle may take
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub fetch_timeout: std::time::Duration,
    /// Keep the last good remote bundle (and its signature) here, to serve it (verified
    /// again) when a restart cannot reach the source
    #[arg(long, value_name = "DIR")]
    pub bundle_cache: Option<PathBuf>,
    /// The largest remote bundle (or entities) accepted
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
    pub max_bundle_bytes: u64,
    #[command(flatten)]
    pub outbound: OutboundArgs,
}

/// The form decision-log records are shipped in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DecisionLogFormat {
    Rampart,
    Ocsf,
}

/// An instance id: 1 to 255 printable characters without white space.
fn parse_instance_id(text: &str) -> Result<String, String> {
    if text.is_empty() || text.chars().count() > 255 {
        return Err("an instance id has 1 to 255 characters".to_owned());
    }
    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("an instance id has no white space or control characters".to_owned());
    }
    Ok(text.to_owned())
}

/// What `--rate-limit-fail` does while the store cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RateLimitFail {
    Local,
    Closed,
}

/// When decision-log records are synced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DecisionLogFsync {
    Never,
    Interval,
    Always,
}

/// `context.auth.method` values a verified bearer token may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JwtMethod {
    Jwt,
    Oauth2,
    Oidc,
}

/// A clock-skew allowance in the policy language's duration syntax (`60s`, `1m30s`), at
/// most `5m`.
fn parse_leeway(text: &str) -> Result<std::time::Duration, String> {
    let millis = rampart_engine::time::parse_duration(text)
        .ok_or_else(|| format!("expected a duration like `60s` or `2m`, found `{text}`"))?;
    if millis < 0 {
        return Err(format!(
            "`{text}` is negative: this duration must be positive"
        ));
    }
    let leeway = std::time::Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX));
    if leeway > rampart_sidecar::MAX_LEEWAY {
        return Err(format!("`{text}` is more than the 5m allowed"));
    }
    Ok(leeway)
}

/// An interval in the policy language's duration syntax (`500ms`, `60s`, `1h`, `1h30m`),
/// at least 1 s.
fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let millis = rampart_engine::time::parse_duration(text)
        .ok_or_else(|| format!("expected a duration like `60s`, `5m` or `1h`, found `{text}`"))?;
    if millis < 0 {
        return Err(format!(
            "`{text}` is negative: this duration must be positive"
        ));
    }
    let interval = std::time::Duration::from_millis(u64::try_from(millis).unwrap_or(0));
    if interval < std::time::Duration::from_secs(1) {
        return Err(format!("`{text}` is shorter than the 1s allowed"));
    }
    Ok(interval)
}

/// A timeout: a whole number with the unit `ms` or `s` (`500ms`, `5s`), at least 1 ms.
fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let (digits, millis_per_unit) = match text.strip_suffix("ms") {
        Some(digits) => (digits, 1),
        None => match text.strip_suffix('s') {
            Some(digits) => (digits, 1000),
            None => {
                return Err(format!(
                    "expected a duration like `5s` or `500ms`, found `{text}`"
                ))
            }
        },
    };
    let count: u64 = digits
        .parse()
        .map_err(|_| format!("expected a duration like `5s` or `500ms`, found `{text}`"))?;
    match count.checked_mul(millis_per_unit) {
        Some(millis) if millis > 0 => Ok(std::time::Duration::from_millis(millis)),
        Some(_) => Err("the timeout must be at least 1 ms".to_owned()),
        None => Err(format!("`{text}` is too long")),
    }
}

/// `--rate-limit-store-timeout`: a timeout of at most 10 s (a longer one would hold
/// decisions past any gateway's own timeout).
fn parse_store_timeout(text: &str) -> Result<std::time::Duration, String> {
    let timeout = parse_timeout(text)?;
    if timeout > std::time::Duration::from_secs(10) {
        return Err("the store timeout must be at most 10s".to_owned());
    }
    Ok(timeout)
}

/// A size in bytes: a whole number, optionally followed by `K`, `M` or `G` (powers of 1024,
/// `KiB`… accepted too), at least 1.
fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("expected a size like `10M`, `512K` or `1048576`, found `{text}`");
    let trimmed = text.trim_end_matches("iB").trim_end_matches('B');
    let (digits, unit) = match trimmed.char_indices().last() {
        Some((at, 'K' | 'k')) => (&trimmed[..at], 1u64 << 10),
        Some((at, 'M' | 'm')) => (&trimmed[..at], 1 << 20),
        Some((at, 'G' | 'g')) => (&trimmed[..at], 1 << 30),
        _ => (trimmed, 1),
    };
    let count: u64 = digits.parse().map_err(|_| bad())?;
    match count.checked_mul(unit) {
        Some(0) => Err("the size must be at least 1 byte".to_owned()),
        Some(bytes) => Ok(bytes),
        None => Err(format!("`{text}` is too large")),
    }
}

#[derive(Debug, Args)]
pub struct LogArgs {
    #[command(subcommand)]
    pub command: LogCommand,
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Verify the hash chain of decision-log files: find edited, removed or reordered records
    Verify(LogVerifyArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct LogVerifyArgs {
    /// Decision-log files or directories of them. A file and its rotated files are one
    /// chain, verified in the order given (oldest first: FILE.2 FILE.1 FILE; oldest first
    /// anyway when found in a directory); each other file (another replica's) is a chain
    /// of its own, verified and reported on its own
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The hash the first record continues from, when earlier records are gone (rotated
    /// away); without it the first record must start the chain
    #[arg(long, value_name = "HASH")]
    pub from: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    pub format: LogFormat,
}

/// How `rampart compliance` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ComplianceFormat {
    Human,
    Json,
    Markdown,
    /// An OSCAL 1.1.2 component definition (JSON)
    Oscal,
}

#[derive(Debug, Args)]
pub struct ComplianceArgs {
    /// Policy folder (not needed with --list)
    #[arg(required_unless_present = "list")]
    pub dir: Option<PathBuf>,
    /// Report this framework (slug or alias); repeat for several. Default: the frameworks
    /// of rampart.toml, else every framework a rule references
    #[arg(long = "framework", value_name = "F")]
    pub frameworks: Vec<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    pub format: ComplianceFormat,
    /// Exit 1 when a reported framework's coverage is below N percent (0-100)
    #[arg(long, value_name = "N", value_parser = crate::commands::compliance::parse_percent)]
    pub fail_under: Option<f64>,
    /// List the frameworks (and, with --framework, their controls) instead of reporting
    #[arg(long, conflicts_with = "fail_under")]
    pub list: bool,
}
