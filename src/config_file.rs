//! `--config FILE`: a TOML file whose keys are the long options of the
//! command line (`threads = 4`, `format = "cef"`, `home = ["10.0.0.0/8"]`,
//! `no-promisc = true`), turned into those options so that clap checks
//! them exactly as it checks flags, with one definition of every option,
//! its default and its help. Options given on the command line win. A key
//! that is no option, or a value the option refuses, is an error naming
//! the file, the line and the key.

use std::collections::BTreeMap;
use std::path::Path;

use clap::Command;
use toml::Spanned;

use crate::error::Error;

/// One key of the file: its line and the arguments it stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub line: usize,
    pub args: Vec<String>,
}

/// The keys of `path`, in file order, each turned into arguments.
pub fn read(path: &Path) -> Result<Vec<Entry>, Error> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::input(&name, e.to_string()))?;
    let line_of = |at: usize| text[..at.min(text.len())].matches('\n').count() + 1;
    let table: BTreeMap<Spanned<String>, Spanned<toml::Value>> =
        toml::from_str(&text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(s.start));
            let msg = e.message().trim().replace('\n', "; ");
            Error::Usage(format!("{name}:{line}: {msg}"))
        })?;
    let mut entries = Vec::new();
    for (key, value) in table {
        let line = line_of(key.span().start);
        let k = key.into_inner();
        let flag = format!("--{k}");
        let bad = |what: &str| Error::Usage(format!("{name}:{line}: {k}: {what}"));
        let args = match value.into_inner() {
            toml::Value::Boolean(true) => vec![flag],
            toml::Value::Boolean(false) => Vec::new(),
            toml::Value::String(s) => vec![format!("{flag}={s}")],
            toml::Value::Integer(n) => vec![format!("{flag}={n}")],
            toml::Value::Float(x) => vec![format!("{flag}={x}")],
            toml::Value::Array(items) => {
                let mut parts = Vec::new();
                for item in items {
                    match item {
                        toml::Value::String(s) => parts.push(s),
                        toml::Value::Integer(n) => parts.push(n.to_string()),
                        _ => return Err(bad("a list may hold strings and numbers only")),
                    }
                }
                vec![format!("{flag}={}", parts.join(","))]
            }
            _ => return Err(bad("not a value an option takes")),
        };
        entries.push(Entry { key: k, line, args });
    }
    entries.sort_by_key(|e| e.line);
    Ok(entries)
}

/// The long options `cmd` takes (its own, not the help and version ones).
fn options(cmd: &Command) -> Vec<String> {
    cmd.get_arguments()
        .filter(|a| !a.is_positional())
        .filter_map(|a| a.get_long().map(str::to_string))
        .filter(|l| !matches!(l.as_str(), "help" | "version" | "config"))
        .collect()
}

/// Check every entry against the subcommands in `subs` of `root`: a key
/// must be an option of one of them, and its value must be one that
/// option takes. Returns, for each subcommand, the entries it takes.
pub fn check(
    path: &Path,
    entries: &[Entry],
    root: &Command,
    subs: &[&str],
) -> Result<Vec<Vec<Entry>>, Error> {
    let name = path.display().to_string();
    let mut taken = vec![Vec::new(); subs.len()];
    for e in entries {
        let mut known = false;
        for (i, sub) in subs.iter().enumerate() {
            let cmd = root.find_subcommand(sub).expect("a subcommand");
            if !options(cmd).contains(&e.key) {
                continue;
            }
            known = true;
            // Parse this key alone (positionals filled in) to let clap
            // judge its value where the file can still be named.
            let mut argv = vec!["picket".to_string(), sub.to_string()];
            argv.extend(e.args.iter().cloned());
            argv.push("placeholder".into());
            if let Err(err) = root.clone().try_get_matches_from(&argv) {
                let msg = err.to_string();
                let first = msg
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("error: ");
                return Err(Error::Usage(format!(
                    "{name}:{}: {}: {first}",
                    e.line, e.key
                )));
            }
            taken[i].push(e.clone());
        }
        if !known {
            return Err(Error::Usage(format!(
                "{name}:{}: unknown key {:?} (keys are the long options of `picket {}`, without the dashes)",
                e.line,
                e.key,
                subs.join("` and `picket ")
            )));
        }
    }
    Ok(taken)
}

/// Where `--config FILE` (or `--config=FILE`) is in `argv`, and the file.
pub fn find_config(argv: &[String]) -> Option<String> {
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        if a == "--config" {
            return it.next().cloned();
        }
        if let Some(f) = a.strip_prefix("--config=") {
            return Some(f.to_string());
        }
    }
    None
}

/// `argv` with the file's options put in front of the command line's own
/// (`given`: the option ids the command line set itself, which win).
pub fn merge(argv: &[String], sub: &str, entries: &[Entry], given: &[String]) -> Vec<String> {
    let at = argv
        .iter()
        .position(|a| a == sub)
        .map_or(argv.len(), |i| i + 1);
    let mut out: Vec<String> = argv[..at].to_vec();
    for e in entries {
        if !given.contains(&e.key) {
            out.extend(e.args.iter().cloned());
        }
    }
    out.extend(argv[at..].iter().cloned());
    out
}
