//! `rampart`: check, format, test, evaluate and build Rampart policies.
//!
//! **Key design decision:** the CLI never evaluates on its own. Every command that decides
//! compiles the folder with `rampart-lang` and asks `rampart-engine`, the same engine the
//! sidecar and the wasm module run, so a decision seen here is the decision a gateway gets.
//!
//! Exit codes are part of the interface: 0 ok, 1 policy, test or decision failures (a
//! diagnostic error, a failing test, a deny from `eval`), 2 usage or I/O errors.

mod alloc;
mod args;
mod commands;
mod exit;
mod input;
mod output;
mod policy;
mod wasm_module;

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: alloc::CountingAllocator = alloc::CountingAllocator;

fn main() -> ExitCode {
    let argv = match commands::serve::config_file::expand(std::env::args_os().collect()) {
        Ok(argv) => argv,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let cli = match args::Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        args::Command::Check(a) => commands::check::run(a),
        args::Command::Lint(a) => commands::check::run_lint(a),
        args::Command::Completions(a) => commands::completions::run(&a),
        args::Command::Fmt(a) => commands::fmt::run(a),
        args::Command::Eval(a) => commands::eval::run(a),
        args::Command::Plan(a) => commands::plan::run(a),
        args::Command::Test(a) => commands::test::run(a),
        args::Command::Build(a) => commands::build::run(a),
        args::Command::Explain(a) => commands::explain::run(a),
        args::Command::Bench(a) => commands::bench::run(a),
        args::Command::Serve(a) => commands::serve::run(*a),
        args::Command::Log(a) => commands::log::run(a),
        args::Command::Compliance(a) => commands::compliance::run(a),
        args::Command::Apikey(a) => commands::apikey::run(a),
        args::Command::Bundle(a) => commands::bundle::run(a),
        args::Command::Push(a) => commands::push::run(a),
        args::Command::Import(a) => commands::import::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(exit::USAGE)
        }
    }
}
