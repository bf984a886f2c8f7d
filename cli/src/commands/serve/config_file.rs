//! `rampart serve --config FILE`: the sidecar's flags, read from a TOML file.
//!
//! Every key is a long flag of `rampart serve`, spelt with `-` or `_`
//! (`decision_log = "/var/log/rampart/decisions.jsonl"`, `jwt-issuer = ["a", "b"]`), plus
//! `policy` for the folder or bundle. A string, number or duration is the flag's value, an
//! array repeats the flag, `true` sets a switch (`no_watch = true`) and `false` leaves it
//! out. Flags on the command line win over the file, key by key.
//!
//! **Key design decision:** the file is turned into command-line arguments placed before
//! the user's, and clap parses the result once. So a value in the file is checked by the
//! same parser, with the same defaults and the same `requires` rules, as the flag.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::Path;

use clap::CommandFactory;

use crate::args::Cli;

/// The largest config file read (1 MiB).
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// When `argv` is `rampart serve … --config FILE …`, returns it with the file's settings
/// spliced in after `serve`; otherwise returns it unchanged.
pub fn expand(argv: Vec<OsString>) -> Result<Vec<OsString>, String> {
    if argv.get(1).is_none_or(|a| a != "serve") {
        return Ok(argv);
    }
    let user = &argv[2..];
    let Some(path) = config_path(user) else {
        return Ok(argv);
    };
    let flags = ServeFlags::new();
    let text = read(&path)?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| format!("config file `{path}`: {}", e.message().trim()))?;
    let given = flags.given(user);
    let mut spliced: Vec<OsString> = argv[..2].to_vec();
    let mut positional = None;
    for (key, value) in &table {
        let name = key.replace('_', "-");
        if name == "policy" || name == "path" {
            let text = value
                .as_str()
                .ok_or_else(|| format!("config file `{path}`: `{key}` must be a string"))?;
            positional = Some(OsString::from(text));
            continue;
        }
        if name == "config" {
            return Err(format!(
                "config file `{path}`: `config` cannot be set in a config file"
            ));
        }
        let Some(takes_value) = flags.long.get(name.as_str()).copied() else {
            return Err(unknown_key(&path, key, &flags));
        };
        if given.flags.contains(name.as_str()) {
            continue;
        }
        push_values(&mut spliced, &name, value, takes_value)
            .map_err(|e| format!("config file `{path}`: `{key}` {e}"))?;
    }
    spliced.extend(user.iter().cloned());
    if let (Some(p), false) = (positional, given.positional) {
        spliced.push(p);
    }
    Ok(spliced)
}

/// The value of the first `--config FILE` or `--config=FILE`.
fn config_path(args: &[OsString]) -> Option<String> {
    let mut it = args.iter().map(|a| a.to_string_lossy());
    while let Some(arg) = it.next() {
        if arg == "--" {
            return None;
        }
        if arg == "--config" {
            return it.next().map(|v| v.into_owned());
        }
        if let Some(v) = arg.strip_prefix("--config=") {
            return Some(v.to_owned());
        }
    }
    None
}

fn read(path: &str) -> Result<String, String> {
    rampart_lang::input::read_text_file(Path::new(path), MAX_CONFIG_BYTES)
        .map_err(|e| format!("config file `{path}`: {e}"))
}

/// The long flags of `rampart serve` and whether each takes a value.
struct ServeFlags {
    long: std::collections::HashMap<String, bool>,
}

/// What the user's own arguments set.
struct Given {
    flags: HashSet<String>,
    positional: bool,
}

impl ServeFlags {
    fn new() -> ServeFlags {
        let cli = Cli::command();
        let long = cli
            .find_subcommand("serve")
            .map(|serve| {
                serve
                    .get_arguments()
                    .filter_map(|a| {
                        let takes = a.get_action().takes_values();
                        a.get_long().map(|l| (l.to_owned(), takes))
                    })
                    .collect()
            })
            .unwrap_or_default();
        ServeFlags { long }
    }

    /// The long flags in `args`, and whether a positional argument is among them.
    fn given(&self, args: &[OsString]) -> Given {
        let mut given = Given {
            flags: HashSet::new(),
            positional: false,
        };
        let mut it = args.iter().map(|a| a.to_string_lossy());
        while let Some(arg) = it.next() {
            if arg == "--" {
                given.positional |= it.next().is_some();
                break;
            }
            if let Some(flag) = arg.strip_prefix("--") {
                let (name, inline) = match flag.split_once('=') {
                    Some((n, _)) => (n, true),
                    None => (flag, false),
                };
                if !inline && self.long.get(name).copied().unwrap_or(false) {
                    it.next();
                }
                given.flags.insert(name.to_owned());
            } else if !arg.starts_with('-') {
                given.positional = true;
            }
        }
        given
    }
}

fn push_values(
    out: &mut Vec<OsString>,
    name: &str,
    value: &toml::Value,
    takes_value: bool,
) -> Result<(), String> {
    use toml::Value;
    if !takes_value {
        return match value {
            Value::Boolean(true) => {
                out.push(format!("--{name}").into());
                Ok(())
            }
            Value::Boolean(false) => Ok(()),
            _ => Err("is a switch: write `true` or `false`".to_owned()),
        };
    }
    let scalar = |v: &Value| -> Result<String, String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Integer(i) => Ok(i.to_string()),
            Value::Float(f) => Ok(f.to_string()),
            Value::Boolean(b) => Ok(b.to_string()),
            _ => Err("must be a string, a number or an array of them".to_owned()),
        }
    };
    let values = match value {
        Value::Array(items) => items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?,
        other => vec![scalar(other)?],
    };
    for v in values {
        out.push(format!("--{name}={v}").into());
    }
    Ok(())
}

fn unknown_key(path: &str, key: &str, flags: &ServeFlags) -> String {
    let names: Vec<&str> = flags.long.keys().map(String::as_str).collect();
    let wanted = key.replace('_', "-");
    let hint = rampart_lang::diagnostics::closest(&wanted, names.iter().copied())
        .map(|s| format!("; did you mean `{}`?", s.replace('-', "_")))
        .unwrap_or_default();
    format!("config file `{path}`: unknown key `{key}`{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn argv(items: &[&str]) -> Vec<OsString> {
        items.iter().map(OsString::from).collect()
    }

    fn with_config(text: &str, args: &[&str]) -> Result<Vec<String>, String> {
        let dir = std::env::temp_dir().join(format!("rampart-cfg-{}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let file = dir.join(format!("c{}.toml", text.len()));
        fs::write(&file, text).map_err(|e| e.to_string())?;
        let mut all = vec!["rampart", "serve", "--config"];
        let f = file.to_string_lossy().into_owned();
        all.push(&f);
        all.extend_from_slice(args);
        let out = expand(argv(&all))?;
        Ok(out
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect())
    }

    #[test]
    fn file_values_become_flags_and_the_command_line_wins() {
        let out = with_config(
            "policy = \"pol\"\nhttp = \"127.0.0.1:1\"\ngrpc = \"127.0.0.1:2\"\nno_watch = true\njwt-issuer = [\"a\", \"b\"]\njwks = \"k.json\"\n",
            &["--http", "127.0.0.1:3"],
        )
        .unwrap();
        assert!(out.contains(&"--grpc=127.0.0.1:2".to_owned()), "{out:?}");
        assert!(!out.contains(&"--http=127.0.0.1:1".to_owned()), "{out:?}");
        assert!(out.contains(&"--no-watch".to_owned()));
        assert!(
            out.contains(&"--jwt-issuer=a".to_owned())
                && out.contains(&"--jwt-issuer=b".to_owned())
        );
        assert_eq!(out.last().map(String::as_str), Some("pol"));
        let parsed = <Cli as clap::Parser>::try_parse_from(&out);
        assert!(parsed.is_ok(), "{parsed:?}");
    }

    #[test]
    fn a_positional_on_the_command_line_wins_over_policy() {
        let out = with_config("policy = \"pol\"\n", &["other"]).unwrap();
        assert_eq!(out.last().map(String::as_str), Some("other"));
        assert!(!out.contains(&"pol".to_owned()));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let err = with_config("decision_lg = \"x\"\n", &["p"]).unwrap_err();
        assert!(
            err.contains("unknown key `decision_lg`; did you mean `decision_log`?"),
            "{err}"
        );
        let err = with_config("no_watch = \"yes\"\n", &["p"]).unwrap_err();
        assert!(err.contains("is a switch"), "{err}");
        let err = with_config("http = [", &["p"]).unwrap_err();
        assert!(err.starts_with("config file"), "{err}");
        let err = with_config("config = \"x\"\n", &["p"]).unwrap_err();
        assert!(err.contains("cannot be set"), "{err}");
    }

    #[test]
    fn other_commands_and_serve_without_config_are_untouched() {
        let a = argv(&["rampart", "check", "--config", "x"]);
        assert_eq!(expand(a.clone()).unwrap(), a);
        let a = argv(&["rampart", "serve", "dir"]);
        assert_eq!(expand(a.clone()).unwrap(), a);
    }
}
