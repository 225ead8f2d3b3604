//! The `picket` binary: parse the command line, run the pipeline, report.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use picket::capture::file::FileSet;
use picket::capture::live::{LiveCapture, LiveOptions};
use picket::cli::{Cli, Command, Common};
use picket::error::{exit, Error};
use picket::output::{Identity, OutputFile, RowWriter};
use picket::pipeline;
use picket::time::Precision;

/// Large tables ask for transparent huge pages (see `hugepages`).
#[global_allocator]
static ALLOC: picket::hugepages::HugePageHint = picket::hugepages::HugePageHint;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let cli = match picket::config_file::find_config(&argv) {
        None => Cli::parse_from(&argv),
        Some(file) => match with_config(&argv, Path::new(&file)) {
            Ok(cli) => cli,
            Err(e) => {
                eprintln!("picket: error: {e}");
                return ExitCode::from(e.exit_code() as u8);
            }
        },
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("picket: error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// The command line with `--config FILE`'s options put in (the command
/// line's own win).
fn with_config(argv: &[String], file: &Path) -> Result<Cli, Error> {
    use clap::CommandFactory;
    use picket::config_file;
    let root = Cli::command();
    let matches = root
        .clone()
        .try_get_matches_from(argv)
        .unwrap_or_else(|e| e.exit());
    let Some((sub, sub_matches)) = matches.subcommand() else {
        return Ok(Cli::parse_from(argv));
    };
    let entries = config_file::read(file)?;
    // Keys of the other command (a sensor's `filter` in a replay) are
    // checked, then left out.
    let subs = ["replay", "live"];
    let mut taken = config_file::check(file, &entries, &root, &subs)?;
    let mine = subs
        .iter()
        .position(|s| *s == sub)
        .map(|i| taken.swap_remove(i));
    let cmd = root.find_subcommand(sub).expect("the subcommand parsed");
    let given: Vec<String> = cmd
        .get_arguments()
        .filter(|a| {
            sub_matches.value_source(a.get_id().as_str())
                == Some(clap::parser::ValueSource::CommandLine)
        })
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    let merged = config_file::merge(argv, sub, &mine.unwrap_or_default(), &given);
    Ok(Cli::try_parse_from(merged).unwrap_or_else(|e| e.exit()))
}

/// Started with descriptor 1 closed (`>&-`)? Rust's runtime reopens a
/// closed standard descriptor on /dev/null, read-write, before `main`, so
/// rows would vanish with exit 0. A shell's `>/dev/null` opens it
/// write-only; read-write /dev/null on descriptor 1 is the runtime's.
fn stdout_was_closed() -> bool {
    // SAFETY: fcntl and fstat only read the descriptor's flags and status
    // into the local `st`.
    unsafe {
        let flags = libc::fcntl(1, libc::F_GETFL);
        if flags == -1 {
            return true;
        }
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(1, &mut st) != 0 {
            return true;
        }
        let null = std::fs::metadata("/dev/null").map(|m| {
            use std::os::unix::fs::MetadataExt;
            m.rdev()
        });
        flags & libc::O_ACCMODE == libc::O_RDWR
            && st.st_mode & libc::S_IFMT == libc::S_IFCHR
            && null.is_ok_and(|r| r == st.st_rdev)
    }
}

fn run(cli: Cli) -> Result<i32, Error> {
    // Ctrl-C and SIGTERM stop reading (every open bin is still flushed);
    // SIGHUP reopens --output FILE.
    let signals = picket::signals::install()
        .map_err(|e| Error::System(format!("cannot install signal handlers: {e}")))?;
    let stop = Arc::clone(&signals.stop);
    let live = cli.command.live_options();
    if let Command::CheckConfig { file } = &cli.command {
        use clap::CommandFactory;
        let entries = picket::config_file::read(file)?;
        picket::config_file::check(file, &entries, &Cli::command(), &["replay", "live"])?;
        println!("{}: {} keys, all valid", file.display(), entries.len());
        return Ok(exit::OK);
    }
    let common: &Common = match &cli.command {
        Command::Replay { common, .. } | Command::Live { common, .. } => common,
        Command::CheckConfig { .. } => return Ok(exit::OK),
        Command::Generate { what } => {
            use clap::CommandFactory;
            let mut out = io::stdout().lock();
            what.write(Cli::command(), &mut out)
                .and_then(|_| out.flush())
                .map_err(|e| Error::Output(e.to_string()))?;
            return Ok(exit::OK);
        }
    };
    // From here on a capture runs.
    // The command line first: a usage error should not wait for an input.
    let mut settings = common.settings()?;
    let run_as = match &cli.command {
        Command::Live {
            user: Some(user),
            group,
            ..
        } => Some(picket::privileges::lookup(user, group.as_deref())?),
        _ => None,
    };
    match &live {
        Some((_, every)) => settings.stats_every = *every,
        None => settings.progress = true,
    }
    enum Source {
        Files(FileSet),
        Live(Vec<LiveCapture>),
    }
    let (mut source, precision) = match &cli.command {
        Command::Replay { files, reader, .. } => {
            let set = FileSet::open_until(files, *reader, &stop)?;
            let p = set.precision();
            (Source::Files(set), p)
        }
        Command::Live {
            iface,
            capture_threads,
            ..
        } => {
            let (opts, _) = live.as_ref().expect("live options");
            let caps = if *capture_threads > 1 {
                // One fanout group per process: two sensors on one
                // interface must not share their packets.
                let group = (std::process::id() & 0xffff) as u16;
                (0..*capture_threads)
                    .map(|_| {
                        let opts = LiveOptions {
                            fanout: Some(group),
                            ..opts.clone()
                        };
                        LiveCapture::open(iface, &opts, Arc::clone(&stop))
                    })
                    .collect::<Result<Vec<_>, _>>()?
            } else {
                vec![LiveCapture::open(iface, opts, Arc::clone(&stop))?]
            };
            (Source::Live(caps), Precision::Micro)
        }
        Command::Generate { .. } | Command::CheckConfig { .. } => return Ok(exit::OK),
    };
    let out: Box<dyn Write + Send> = match &common.output {
        Some(path) => Box::new(
            OutputFile::open(path, common.truncate, Arc::clone(&signals.reopen))
                .map_err(|e| Error::Output(format!("{}: {e}", path.display())))?,
        ),
        None => {
            if stdout_was_closed() {
                return Err(Error::Output(
                    "standard output is closed; give --output FILE".into(),
                ));
            }
            Box::new(BufWriter::new(io::stdout()))
        }
    };
    if let (Source::Live(caps), Command::Live { iface, .. }) = (&source, &cli.command) {
        // A sensor says what it watches, and how, when it starts.
        let (opts, _) = live.as_ref().expect("live options");
        let rules = settings.rule_set()?.names.join(", ");
        let output = common
            .output
            .as_ref()
            .map_or("standard output".into(), |p| p.display().to_string());
        let threads = match caps.len() {
            1 => String::new(),
            n => format!(", {n} capture threads in one fanout group"),
        };
        eprintln!(
            "picket: capturing on {iface} (link type {}, snap length {}, filter {}{threads}); rules: {rules}; writing {} to {output}",
            caps[0].link_name(),
            opts.snaplen,
            opts.filter.as_deref().map_or("none".into(), |f| format!("{f:?}")),
            common.format.name(),
        );
    }
    if let Some(who) = &run_as {
        // Everything that needs root is open: the interface, the output
        // file, the metrics listener.
        picket::privileges::drop_to(who)?;
        eprintln!(
            "picket: running as {} (uid {}, gid {})",
            who.name, who.uid, who.gid
        );
    }
    let identity = Identity {
        sensor: common
            .sensor
            .clone()
            .unwrap_or_else(picket::output::host_name),
        input: match &cli.command {
            Command::Live { iface, .. } => iface.clone(),
            Command::Replay { files, .. } => files
                .iter()
                .map(|f| if f == "-" { "<stdin>" } else { f.as_str() })
                .collect::<Vec<_>>()
                .join(","),
            _ => String::new(),
        },
        live: live.is_some(),
        in_json: common.sensor.is_some(),
    };
    let mut writer = RowWriter::new(out, common.format, precision).with_identity(identity);
    if let Some(target) = &common.syslog {
        let sink = picket::output::syslog::SyslogSink::start(target)
            .map_err(|e| Error::System(format!("cannot start the syslog sender: {e}")))?;
        writer = writer.with_syslog(sink);
    }
    // One pipeline per source type, so each reader inlines into its loop.
    let report = match &mut source {
        Source::Files(s) => pipeline::run(s, &settings, writer, &stop)?,
        Source::Live(s) if s.len() > 1 => pipeline::run_many(s, &settings, writer, &stop)?,
        Source::Live(s) => pipeline::run(&mut s[0], &settings, writer, &stop)?,
    };
    if !common.quiet {
        eprint!("{}", report.render());
    }
    if live.is_none() && report.capture.interrupted {
        // Live capture ends with a signal by design; a replay that does
        // has not read its whole input, and must not look complete.
        let upto = report
            .capture
            .last_clock
            .map(|t| {
                format!(
                    ", capture time up to {}",
                    picket::time::rfc3339(t, Some(precision))
                )
            })
            .unwrap_or_default();
        eprintln!(
            "picket: interrupted before the end of the input: rows cover the {} packets read{upto}",
            report.capture.packets
        );
        return Ok(exit::INTERRUPTED);
    }
    let mut code = if report.damaged_inputs > 0 {
        exit::DAMAGED
    } else {
        exit::OK
    };
    if let Command::Replay { files, .. } = &cli.command {
        let inputs = files
            .iter()
            .map(|f| if f == "-" { "<stdin>" } else { f.as_str() })
            .collect::<Vec<_>>()
            .join(", ");
        let bad = report.capture.bad_timestamps;
        if bad > 0 {
            eprintln!(
                "picket: warning: {bad} records in {inputs} have impossible timestamps (a sub-second field of a second or more, or past the year 2262) and were skipped"
            );
            code = exit::DAMAGED;
        }
        let late = report.agg.late_probes;
        if late > 0 {
            // Probes older than a bin that had already closed were not
            // counted: the input is out of time order beyond what the
            // bins absorb. Never silent.
            eprintln!(
                "picket: warning: {late} probes came after their bin had closed and were not counted: {inputs} is out of time order; sort it first (reordercap IN OUT)"
            );
            code = exit::DAMAGED;
        }
    }
    Ok(code)
}
