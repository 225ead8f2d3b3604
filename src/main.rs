//! The `picket` binary: parse the command line, run the pipeline, report.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;

use picket::capture::file::FileSet;
use picket::capture::live::LiveCapture;
use picket::cli::{Cli, Command, Common};
use picket::error::{exit, Error};
use picket::output::RowWriter;
use picket::pipeline;
use picket::time::Precision;

/// Large tables ask for transparent huge pages (see `hugepages`).
#[global_allocator]
static ALLOC: picket::hugepages::HugePageHint = picket::hugepages::HugePageHint;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("picket: error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn run(cli: Cli) -> Result<i32, Error> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        // Ctrl-C and SIGTERM stop reading; every open bin is still flushed.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
    }
    let live = cli.command.live_options();
    let common: &Common = match &cli.command {
        Command::Replay { common, .. } | Command::Live { common, .. } => common,
    };
    // The command line first: a usage error should not wait for an input.
    let mut settings = common.settings()?;
    match &live {
        Some((_, every)) => settings.stats_every = *every,
        None => settings.progress = true,
    }
    enum Source {
        Files(FileSet),
        Live(LiveCapture),
    }
    let (mut source, precision) = match &cli.command {
        Command::Replay { files, reader, .. } => {
            let set = FileSet::open(files, *reader)?;
            let p = set.precision();
            (Source::Files(set), p)
        }
        Command::Live { iface, .. } => {
            let (opts, _) = live.as_ref().expect("live options");
            let cap = LiveCapture::open(iface, opts, Arc::clone(&stop))?;
            (Source::Live(cap), Precision::Micro)
        }
    };
    let out: Box<dyn Write + Send> = match &common.output {
        Some(path) => {
            Box::new(BufWriter::new(File::create(path).map_err(|e| {
                Error::Output(format!("{}: {e}", path.display()))
            })?))
        }
        None => Box::new(BufWriter::new(io::stdout())),
    };
    let writer = RowWriter::new(out, common.format, precision);
    // One pipeline per source type, so each reader inlines into its loop.
    let report = match &mut source {
        Source::Files(s) => pipeline::run(s, &settings, writer, &stop)?,
        Source::Live(s) => pipeline::run(s, &settings, writer, &stop)?,
    };
    if !common.quiet {
        eprint!("{}", report.render());
    }
    Ok(if report.damaged_inputs > 0 {
        exit::DAMAGED
    } else {
        exit::OK
    })
}
