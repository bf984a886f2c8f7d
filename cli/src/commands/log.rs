//! `rampart log verify FILE…`: check the hash chain of decision logs written by
//! `rampart serve`, name every record that was edited, removed or moved, and every loss
//! the writer recorded (gaps, crashes, cut-off lines).
//!
//! Exit codes: 0 when the chain is intact, 1 when anything is reported (broken or
//! incomplete), 2 when a file cannot be read (or `--from` is not a hash).

use rampart_sidecar::log_verify::{verify_files, ChainReport, Problem, VerifyError};
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
    Ok(if report.is_intact() { OK } else { FAILURE })
}

/// `intact`, `incomplete` (only losses the writer recorded: gaps, crashes, cut-off lines)
/// or `broken` (anything else: tampering).
fn status(report: &ChainReport) -> &'static str {
    if report.is_intact() {
        "intact"
    } else if report.is_tampered() {
        "broken"
    } else {
        "incomplete"
    }
}

/// One line per problem, `FILE:LINE: KIND: message`, then one summary line: `intact: …`,
/// `incomplete: …` or `broken: …`; a note when the log does not end with a stop record.
fn human(report: &ChainReport) -> String {
    let mut out = String::new();
    for problem in &report.problems {
        out.push_str(&format!(
            "{}:{}: {}: {}\n",
            problem.file.display(),
            problem.line,
            problem.kind.label(),
            problem.message
        ));
    }
    if report.more_problems > 0 {
        out.push_str(&format!(
            "… and {} more problems not listed\n",
            report.more_problems
        ));
    }
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
    let status = status(report);
    if report.is_intact() {
        out.push_str(&format!("{status}: {held}\n"));
    } else {
        let problems = report.problems.len() as u64 + report.more_problems;
        let mut losses = String::new();
        if report.lost > 0 {
            losses.push_str(&format!("; {} records not written", report.lost));
        }
        if report.crashes > 0 {
            losses.push_str(&format!(
                "; {} crash{}",
                report.crashes,
                if report.crashes == 1 { "" } else { "es" }
            ));
        }
        out.push_str(&format!(
            "{status}: {held} verified; {problems} problem{}{losses}\n",
            if problems == 1 { "" } else { "s" }
        ));
    }
    if !report.closed && report.last.is_some() {
        out.push_str(
            "note: the log does not end with a stop record: the sidecar is still writing it, \
             or was killed and has not started since (decisions it answered last may be \
             missing)\n",
        );
    }
    out
}

/// `{"intact", "status", "records", "lost", "crashes", "closed", "files", "first", "last",
/// "problem", "problems", "more_problems"}`.
fn report_json(report: &ChainReport, args: &LogVerifyArgs) -> serde_json::Value {
    let problem = |p: &Problem| {
        json!({
            "file": p.file.display().to_string(),
            "line": p.line,
            "kind": p.kind.label(),
            "message": p.message,
        })
    };
    json!({
        "intact": report.is_intact(),
        "status": status(report),
        "records": report.records,
        "lost": report.lost,
        "crashes": report.crashes,
        "closed": report.closed,
        "files": args.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        "first": report.first.as_ref().map(|f| json!({"seq": f.seq, "prev": f.hash})),
        "last": report.last.as_ref().map(|l| json!({"seq": l.seq, "hash": l.hash})),
        "problem": report.problem().map(problem),
        "problems": report.problems.iter().map(problem).collect::<Vec<_>>(),
        "more_problems": report.more_problems,
    })
}
