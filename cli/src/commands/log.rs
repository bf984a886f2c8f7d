//! `rampart log verify FILE…`: check the hash chain of decision logs written by
//! `rampart serve` and name the first record that was edited, removed or moved.
//!
//! Exit codes: 0 when the chain is intact, 1 when it is broken, 2 when a file cannot be read
//! (or `--from` is not a hash).

use rampart_sidecar::log_verify::{verify_files, ChainReport, VerifyError};
use serde_json::json;

use crate::args::{LogArgs, LogCommand, LogFormat, LogVerifyArgs};
use crate::exit::{CliError, FAILURE, OK};
use crate::output::write_stdout;

pub fn run(args: LogArgs) -> Result<u8, CliError> {
    match args.command {
        LogCommand::Verify(args) => verify(&args),
    }
}

fn verify(args: &LogVerifyArgs) -> Result<u8, CliError> {
    // A log is read line by line, without a size limit (logs are large); a device or FIFO
    // would never end, so only regular files are read.
    for file in &args.files {
        crate::input::refuse_special_file(file)?;
    }
    let report = verify_files(&args.files, args.from.as_deref()).map_err(|e| match e {
        VerifyError::Read { path, source } => CliError::Read { path, source },
        other @ VerifyError::BadStart(_) => CliError::Input(other.to_string()),
    })?;
    match args.format {
        LogFormat::Human => write_stdout(format_args!("{}", human(&report))),
        LogFormat::Json => write_stdout(format_args!("{}\n", report_json(&report, args))),
    }
    Ok(if report.problem.is_some() {
        FAILURE
    } else {
        OK
    })
}

/// One line for an intact chain; for a broken one, the place and what is wrong, then how
/// far the chain held.
fn human(report: &ChainReport) -> String {
    let held = match (&report.first, &report.last) {
        (Some(first), Some(last)) => format!(
            "{} record{} (seq {} to {}), last hash {}",
            report.records,
            if report.records == 1 { "" } else { "s" },
            first.seq,
            last.seq,
            last.hash
        ),
        _ => "no records".to_owned(),
    };
    match &report.problem {
        None => format!("intact: {held}\n"),
        Some(problem) => format!(
            "{}:{}: {}: {}\nbroken: {held} verified before it\n",
            problem.file.display(),
            problem.line,
            problem.kind.label(),
            problem.message
        ),
    }
}

/// `{"intact", "records", "files", "first", "last", "problem"}`.
fn report_json(report: &ChainReport, args: &LogVerifyArgs) -> serde_json::Value {
    json!({
        "intact": report.problem.is_none(),
        "records": report.records,
        "files": args.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        "first": report.first.as_ref().map(|f| json!({"seq": f.seq, "prev": f.hash})),
        "last": report.last.as_ref().map(|l| json!({"seq": l.seq, "hash": l.hash})),
        "problem": report.problem.as_ref().map(|p| json!({
            "file": p.file.display().to_string(),
            "line": p.line,
            "kind": p.kind.label(),
            "message": p.message,
        })),
    })
}
