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
    /// Format policy files canonically
    Fmt(FmtArgs),
    /// Decide one request and print the decision JSON
    Eval(EvalArgs),
    /// Run the `test` blocks of policy folders
    Test(TestArgs),
    /// Compile a policy folder into a bundle file
    Build(BuildArgs),
    /// Print the documentation of a diagnostic or lint code (E005, L001, …)
    Explain(ExplainArgs),
    /// Time a policy folder on your own requests: median, p99, allocations per decision
    Bench(BenchArgs),
    /// Run the decision sidecar: Envoy ext_authz (gRPC), decision API and forward-auth (HTTP)
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Human,
    Json,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    Human,
    Junit,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Policy folders
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Output format: human lines or a JUnit XML report on standard output
    #[arg(long, value_enum, default_value = "human")]
    pub format: TestFormat,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Policy folder
    pub dir: PathBuf,
    /// Where to write the bundle
    #[arg(short, long)]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A code such as E005 or L001
    pub code: String,
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
pub struct ServeArgs {
    /// Policy folder, or a bundle file written by `rampart build`
    pub path: PathBuf,
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
}
