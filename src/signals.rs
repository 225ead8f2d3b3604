//! Signals a sensor answers: SIGINT and SIGTERM stop the capture (every
//! open bin is still written; a second SIGINT, for a person whose run
//! hangs, exits at once with 130), SIGHUP asks the output file to be
//! reopened (logrotate moves it away, then signals) and capture goes on.

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::flag;

/// Exit code of a second SIGINT.
pub const FORCED: i32 = 130;

pub struct Signals {
    /// Set by SIGINT and SIGTERM.
    pub stop: Arc<AtomicBool>,
    /// Set by SIGHUP; cleared by whoever reopens.
    pub reopen: Arc<AtomicBool>,
}

/// Install the handlers (flags only: nothing else is safe in a handler).
pub fn install() -> io::Result<Signals> {
    let stop = Arc::new(AtomicBool::new(false));
    let reopen = Arc::new(AtomicBool::new(false));
    // Checked before the flag is set: only a second SIGINT exits.
    flag::register_conditional_shutdown(SIGINT, FORCED, Arc::clone(&stop))?;
    flag::register(SIGINT, Arc::clone(&stop))?;
    flag::register(SIGTERM, Arc::clone(&stop))?;
    flag::register(SIGHUP, Arc::clone(&reopen))?;
    Ok(Signals { stop, reopen })
}
