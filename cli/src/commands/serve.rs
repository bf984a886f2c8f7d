//! `rampart serve DIR|BUNDLE`: run the decision sidecar (`rampart-sidecar`) on a policy
//! folder or a bundle file until SIGINT or SIGTERM.
//!
//! Prints one line on standard output once both listeners are bound:
//! `rampart serve: ready grpc=ADDR http=ADDR bundle=REVISION`.

use std::io::Write;
use std::path::Path;

use rampart_engine::Engine;
use rampart_sidecar::{Config, Policy, Ready};

use crate::args::ServeArgs;
use crate::exit::{CliError, FAILURE, OK};
use crate::policy;

pub fn run(args: ServeArgs) -> Result<u8, CliError> {
    let engine = if args.path.is_file() {
        load_bundle(&args.path)?
    } else {
        match policy::load_reporting(&args.path)? {
            Some(loaded) => loaded.engine,
            None => return Ok(FAILURE),
        }
    };
    // A bundle file is not a folder: it has no default entities file.
    let entities = policy::load_entities(&engine, &args.path, args.entities.as_deref())?;
    let config = Config {
        grpc: args.grpc,
        http: args.http,
        decision_log: args.decision_log,
    };
    rampart_sidecar::serve(config, Policy { engine, entities }, print_ready)
        .map_err(|e| CliError::Input(e.to_string()))?;
    eprintln!("rampart serve: stopped");
    Ok(OK)
}

/// Reads a bundle file written by `rampart build`.
fn load_bundle(path: &Path) -> Result<Engine, CliError> {
    let text = policy::read_input(path)?;
    Engine::from_bundle_json(&text)
        .map_err(|e| CliError::Input(format!("`{}`: {e}", path.display())))
}

/// The ready line. Written directly: a closed standard output must not stop the server.
fn print_ready(ready: &Ready) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "rampart serve: ready grpc={} http={} bundle={}",
        ready.grpc, ready.http, ready.revision
    );
    let _ = out.flush();
}
