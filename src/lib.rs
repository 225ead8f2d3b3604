//! picket: detect active scanning (MITRE ATT&CK T1595) from packets.
//!
//! The crate is laid out as the pipeline runs:
//! capture -> decode -> shard -> aggregate (track attempts -> rules) ->
//! merge -> output. `event` and `finding` hold the small types that flow
//! between the stages.

pub mod aggregate;
pub mod capture;
pub mod cli;
pub mod config;
pub mod config_file;
pub mod decode;
pub mod error;
pub mod event;
pub mod finding;
pub mod fuzzing;
pub mod handover;
pub mod hugepages;
pub mod merge;
pub mod metrics;
pub mod output;
pub mod pipeline;
pub mod privileges;
pub mod rules;
pub mod shard;
pub mod signals;
pub mod sketch;
pub mod stats;
pub mod time;
pub mod track;
