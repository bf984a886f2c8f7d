//! `rampart log verify FILE|DIR…`: check the hash chain of decision logs written by
//! `rampart serve`, name every record that was edited, removed or moved, and every loss
//! the writer recorded (gaps, crashes, cut-off lines). Several replicas' logs are checked
//! at once, each chain (a file and its rotated files) on its own.
//!
//! Exit codes: 0 when every chain is intact, 1 when anything is reported (broken or
//! incomplete), 2 when a file cannot be read (or `--from` is not a hash).

use std::path::{Path, PathBuf};

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
    let chains = chains(&args.files)?;
    // A log is read line by line, without a size limit (logs are large); a device or FIFO
    // would never end, so only regular files are read.
    for file in chains.iter().flat_map(|c| &c.files) {
        crate::input::refuse_special_file(file)?;
    }
    let mut reports = Vec::new();
    for chain in &chains {
        let report = verify_files(&chain.files, args.from.as_deref()).map_err(|e| match e {
            VerifyError::Read { path, source } => CliError::Read { path, source },
            other @ VerifyError::BadStart(_) => CliError::Input(other.to_string()),
        })?;
        reports.push(report);
    }
    let intact = reports.iter().all(ChainReport::is_intact);
    match (chains.as_slice(), reports.as_slice()) {
        ([chain], [report]) => match args.format {
            LogFormat::Human => write_stdout(format_args!("{}", human(report))),
            LogFormat::Json => {
                write_stdout(format_args!("{}\n", report_json(report, &chain.files)))
            }
        },
        _ => match args.format {
            LogFormat::Human => write_stdout(format_args!("{}", human_chains(&chains, &reports))),
            LogFormat::Json => {
                let each: Vec<_> = chains
                    .iter()
                    .zip(&reports)
                    .map(|(chain, report)| {
                        let mut json = report_json(report, &chain.files);
                        json["instance"] = json!(chain.instance);
                        json
                    })
                    .collect();
                write_stdout(format_args!(
                    "{}\n",
                    json!({"intact": intact, "chains": each})
                ))
            }
        },
    }
    Ok(if intact { OK } else { FAILURE })
}

/// One chain to verify: a log file and its rotated files (oldest first), and the
/// instance id its first record names.
struct Chain {
    name: String,
    files: Vec<PathBuf>,
    instance: Option<String>,
}

/// Groups the files (a directory stands for the logs in it) into chains: a file and its
/// rotated files (`FILE.1`, `FILE.2`, …) are one chain, each other file another. Files
/// named on the command line keep their order within their chain (as before: `FILE.2
/// FILE.1 FILE`); those found in a directory are put oldest first.
fn chains(args: &[PathBuf]) -> Result<Vec<Chain>, CliError> {
    let mut chains: Vec<(Chain, bool)> = Vec::new();
    for arg in args {
        let (files, listed) = if arg.is_dir() {
            (log_files_in(arg)?, true)
        } else {
            (vec![arg.clone()], false)
        };
        for file in files {
            let (base, _) = rotation_of(&file);
            match chains.iter_mut().find(|(c, _)| c.name == base) {
                Some((chain, from_dir)) => {
                    chain.files.push(file);
                    *from_dir |= listed;
                }
                None => chains.push((
                    Chain {
                        name: base,
                        files: vec![file],
                        instance: None,
                    },
                    listed,
                )),
            }
        }
    }
    Ok(chains
        .into_iter()
        .map(|(mut chain, from_dir)| {
            if from_dir {
                chain
                    .files
                    .sort_by_key(|f| std::cmp::Reverse(rotation_of(f).1));
            }
            chain.instance = chain.files.first().and_then(|f| first_instance(f));
            chain
        })
        .collect())
}

/// The decision logs in a directory: its regular files, except the shippers' cursor
/// files (`FILE.cursor.SINK`) and temporary files.
fn log_files_in(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let read_error = |source| CliError::Read {
        path: dir.display().to_string(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !path.is_file() || name.contains(".cursor.") || name.ends_with(".tmp") {
            continue;
        }
        files.push(path);
    }
    files.sort();
    Ok(files)
}

/// The log a file belongs to and its rotation number: `FILE.3` → (`FILE`, 3), `FILE` →
/// (`FILE`, 0).
fn rotation_of(file: &Path) -> (String, u64) {
    let text = file.display().to_string();
    if let Some((base, n)) = text.rsplit_once('.') {
        if !n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = n.parse() {
                return (base.to_owned(), n);
            }
        }
    }
    (text, 0)
}

/// The `instance` of the first record of a log, when it has one.
fn first_instance(file: &Path) -> Option<String> {
    use std::io::{BufRead as _, Read as _};
    let file = std::fs::File::open(file).ok()?;
    let mut line = Vec::new();
    std::io::BufReader::new(file.take(1 << 20))
        .read_until(b'\n', &mut line)
        .ok()?;
    let record: serde_json::Value = serde_json::from_slice(&line).ok()?;
    record.get("instance")?.as_str().map(str::to_owned)
}

/// Each chain's report under a heading naming it and its instance, then one line for all.
fn human_chains(chains: &[Chain], reports: &[ChainReport]) -> String {
    let mut out = String::new();
    let mut counts = [0usize; 3];
    for (chain, report) in chains.iter().zip(reports) {
        let instance = chain
            .instance
            .as_deref()
            .map(|i| format!(" (instance {i})"))
            .unwrap_or_default();
        out.push_str(&format!("== {}{instance}\n", chain.name));
        out.push_str(&human(report));
        counts[match status(report) {
            "intact" => 0,
            "incomplete" => 1,
            _ => 2,
        }] += 1;
    }
    out.push_str(&format!(
        "{} chains: {} intact, {} incomplete, {} broken\n",
        chains.len(),
        counts[0],
        counts[1],
        counts[2]
    ));
    out
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
fn report_json(report: &ChainReport, files: &[PathBuf]) -> serde_json::Value {
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
        "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        "first": report.first.as_ref().map(|f| json!({"seq": f.seq, "prev": f.hash})),
        "last": report.last.as_ref().map(|l| json!({"seq": l.seq, "hash": l.hash})),
        "problem": report.problem().map(problem),
        "problems": report.problems.iter().map(problem).collect::<Vec<_>>(),
        "more_problems": report.more_problems,
    })
}
