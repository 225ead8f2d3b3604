//! Errors that end a run, and the exit codes they map to.

use std::fmt;

/// Documented exit codes (README, "Exit codes").
pub mod exit {
    pub const OK: i32 = 0;
    /// Writing output failed, or an internal error.
    pub const FAILURE: i32 = 1;
    /// The command line is wrong (clap also uses 2).
    pub const USAGE: i32 = 2;
    /// An input could not be opened or is not a capture we can read.
    pub const INPUT: i32 = 3;
    /// An input was damaged part way; rows for what was read were written.
    pub const DAMAGED: i32 = 4;
    /// Not permitted to capture on the interface.
    pub const PERMISSION: i32 = 5;
    /// A replay stopped by a signal before the end of its input.
    pub const INTERRUPTED: i32 = 6;
}

#[derive(Debug)]
pub enum Error {
    /// `what` (a file or interface) cannot be used as input.
    Input { what: String, why: String },
    /// Capturing on `what` needs privileges we do not have.
    Permission { what: String, why: String },
    /// The command line asks for something impossible.
    Usage(String),
    /// Output could not be written.
    Output(String),
    /// The system refused what picket needs to run (a thread).
    System(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input { .. } => exit::INPUT,
            Error::Permission { .. } => exit::PERMISSION,
            Error::Usage(_) => exit::USAGE,
            Error::Output(_) | Error::System(_) => exit::FAILURE,
        }
    }

    pub fn input(what: impl Into<String>, why: impl Into<String>) -> Self {
        Error::Input {
            what: what.into(),
            why: why.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input { what, why } => write!(f, "{what}: {why}"),
            Error::Permission { what, why } => {
                write!(f, "{what}: {why} (live capture needs root or CAP_NET_RAW)")
            }
            Error::Usage(why) => write!(f, "{why}"),
            Error::Output(why) => write!(f, "cannot write output: {why}"),
            Error::System(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for Error {}
