//! The command line: `picket replay FILE...` and `picket live IFACE`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;

use crate::capture::file::Reader;
use crate::capture::live::LiveOptions;
use crate::config::{Detection, Limits, DEFAULT_HOME};
use crate::error::Error;
use crate::metrics::{Metrics, MetricsServer};
use crate::output::Format;
use crate::pipeline::Settings;
use crate::rules;
use crate::time::{Nanos, NANOS_PER_SEC};

#[derive(Parser, Debug)]
#[command(
    name = "picket",
    version,
    about = "Detect active scanning (MITRE ATT&CK T1595) from packets",
    long_about = "Detect active scanning (MITRE ATT&CK T1595: port scans, IP block sweeps) \
from packets, live or from capture files.\n\n\
picket tracks every probe (TCP SYN, FIN/NULL/XMAS, first UDP datagram of a flow) until \
it is answered (SYN-ACK, UDP reply), rejected (RST, ICMP unreachable) or times out, and \
reports, per source and 5-minute bin, the sources whose failed attempts cross the seed \
rule's thresholds (an early alert the moment they do, a row when the bin closes), and \
internal scans, ping sweeps, ACK scans and small sweeps (--rules). Rows are JSON lines \
with the field names of the Sentinel KQL rule and the rule that wrote them.\n\n\
Exit codes: 0 ok, 1 output failed (or a thread was refused), 2 bad command line, \
3 input unusable, 4 input damaged part way or out of time order (rows for what was read \
were written), 5 no capture privilege, 6 replay stopped before the end of its input, \
130 a second Ctrl-C (exits at once; open bins are lost).\n\
Signals: SIGINT and SIGTERM stop and write every open bin; SIGHUP reopens --output FILE.",
    after_help = "Examples:\n  picket replay pcaps/nmap-sS-top1000.pcap\n  picket replay --format table day1.pcapng day2.pcapng\n  tcpdump -w - -i eth0 | picket replay -\n  picket live eth0 --allow 198.51.100.0/24 --output rows.json"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read pcap/pcapng files (merged in timestamp order; `-` is stdin, FIFOs and <(...) work too) and report scans.
    Replay {
        /// Capture files: classic pcap (micro- or nanosecond) or pcapng.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
        /// How to read classic pcap files: auto memory-maps them (fast,
        /// strict), libpcap reads them as tcpdump does.
        #[arg(long, value_enum, default_value_t = Reader::Auto)]
        reader: Reader,
        #[command(flatten)]
        common: Common,
    },
    /// Check a --config file: every key an option, every value one it
    /// takes (exit 0), or the first fault with its line (exit 2).
    CheckConfig {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Write shell completions or the man page to standard output, e.g.
    /// `picket generate bash > /etc/bash_completion.d/picket`,
    /// `picket generate man > picket.1`.
    Generate {
        #[arg(value_enum)]
        what: Generated,
    },
    /// Capture on a network interface (span port, tap) until Ctrl-C or SIGTERM.
    Live {
        /// Interface name, e.g. eth0.
        #[arg(value_name = "IFACE")]
        iface: String,
        /// Do not put the interface in promiscuous mode.
        #[arg(long)]
        no_promisc: bool,
        /// BPF filter applied in the kernel, e.g. "not port 22".
        #[arg(long, value_name = "EXPR")]
        filter: Option<String>,
        /// Kernel capture buffer in MiB (libpcap's 2 MiB loses bursts).
        #[arg(long, value_name = "MIB", default_value_t = 64)]
        buffer_mib: u32,
        /// Bytes kept per packet; headers are all picket needs.
        #[arg(long, value_name = "BYTES", default_value_t = 256)]
        snaplen: u32,
        /// Print a statistics line to stderr this often (0 turns it off).
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        stats_interval: u64,
        /// Capture threads: N sockets on the interface in one PACKET_FANOUT
        /// group, each reading and decoding its share of the flows (by flow
        /// hash, so a probe and its answer reach the same thread) for the
        /// same aggregators. Raise it when the statistics show kernel
        /// drops and one capture thread is busy all the time. Each socket
        /// has its own --buffer-mib.
        #[arg(long, value_name = "N", default_value_t = 1,
              value_parser = clap::value_parser!(u16).range(1..=64))]
        capture_threads: u16,
        /// Once the interface is open (and the output and metrics
        /// listener), run as this user, with no root and no capabilities
        /// left, as `tcpdump -Z` does.
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// The group to run as with --user (default: the user's own).
        #[arg(long, value_name = "NAME", requires = "user")]
        group: Option<String>,
        #[command(flatten)]
        common: Common,
    },
}

/// What `picket generate` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Generated {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
    /// The man page (roff).
    Man,
}

impl Generated {
    /// Write it for `cmd` (picket's own command line).
    pub fn write(
        self,
        mut cmd: clap::Command,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        use clap_complete::Shell;
        let shell = match self {
            Generated::Man => return clap_mangen::Man::new(cmd).render(out),
            Generated::Bash => Shell::Bash,
            Generated::Zsh => Shell::Zsh,
            Generated::Fish => Shell::Fish,
            Generated::Elvish => Shell::Elvish,
            Generated::Powershell => Shell::PowerShell,
        };
        clap_complete::generate(shell, &mut cmd, "picket", out);
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct Common {
    /// Take options from a TOML file whose keys are these long options
    /// without the dashes (`threads = 4`, `home = ["10.0.0.0/8"]`,
    /// `quiet = true`); options given here win. `picket check-config FILE`
    /// checks one.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Write rows to FILE instead of standard output: appended to what it
    /// holds, and reopened on SIGHUP (for logrotate).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Empty --output FILE first instead of appending to it.
    #[arg(long, requires = "output")]
    pub truncate: bool,
    /// Also send every finding to a syslog collector: udp://HOST:PORT, or
    /// tcp://HOST:PORT (RFC 6587 octet counting); RFC 5424 messages
    /// carrying the --format line (JSON for table), facility local0. Held
    /// in a bounded buffer while the collector is down.
    #[arg(long, value_name = "URL")]
    pub syslog: Option<crate::output::syslog::Target>,
    /// This sensor's name in every finding of the SIEM formats (CEF
    /// dvchost, LEEF Sensor, EVE host; default: the host name), with the
    /// interface or files read; given, JSON rows carry Sensor and Input too.
    #[arg(long, value_name = "NAME")]
    pub sensor: Option<String>,
    /// Serve Prometheus metrics on ADDR (such as 127.0.0.1:9464) at
    /// /metrics while the run lasts: packets, drops, attempts by outcome,
    /// findings by rule, table sizes, evictions, answer delays.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Aggregator threads (default: the cores available; at most twice the cores, or 4).
    #[arg(short, long, value_name = "N")]
    pub threads: Option<usize>,
    /// Events per batch handed from capture to an aggregator (larger
    /// batches mean fewer thread wake-ups).
    #[arg(long, value_name = "N", default_value_t = 2048)]
    pub batch: usize,
    /// Pin the capture thread to the first core and each aggregator to the
    /// next ones; worth it when there are more cores than aggregators.
    #[arg(long)]
    pub pin: bool,
    /// Do not print statistics to stderr at the end.
    #[arg(short, long)]
    pub quiet: bool,

    /// Rules to run (comma-separated; default: every rule). `--rules seed`
    /// gives only the seed rule's rows; `default` names the default set,
    /// `all` every rule (today the same).
    #[arg(long, value_name = "RULE,...", value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(rules::NAMES.iter().copied().chain(["default", "all"])))]
    pub rules: Vec<String>,
    /// Home networks (comma-separated CIDRs or addresses; replaces the
    /// default list; `none` for no home networks). The seed rule leaves
    /// their sources out; the internal rule counts only them.
    #[arg(long, value_name = "CIDR,...", value_delimiter = ',', default_values = DEFAULT_HOME)]
    pub home: Vec<String>,
    /// Authorised scanners (comma-separated CIDRs or addresses): their rows are suppressed and counted.
    #[arg(long, value_name = "CIDR,...", value_delimiter = ',', value_parser = parse_net)]
    pub allow: Vec<IpNet>,
    /// File of allow-listed CIDRs, one per line, `#` starts a comment.
    #[arg(long, value_name = "FILE")]
    pub allow_file: Option<PathBuf>,

    /// Bin length in seconds (bins are aligned to the Unix epoch).
    #[arg(long, value_name = "SECS", default_value_t = Detection::default().bin as f64 / NANOS_PER_SEC as f64)]
    pub bin: f64,
    /// Seconds an attempt waits for an answer before it counts as unanswered.
    #[arg(long, value_name = "SECS", default_value_t = Detection::default().answer_timeout as f64 / NANOS_PER_SEC as f64)]
    pub answer_timeout: f64,
    /// Report a source with at least this many distinct failed destination ports...
    #[arg(long, value_name = "N", default_value_t = Detection::default().min_ports)]
    pub min_ports: u32,
    /// ...or at least this many distinct destination hosts...
    #[arg(long, value_name = "N", default_value_t = Detection::default().min_ips)]
    pub min_hosts: u32,
    /// ...together with at least this many failed attempts.
    #[arg(long, value_name = "N", default_value_t = Detection::default().min_attempts)]
    pub min_attempts: u64,
    /// Distinct ports from which a scan is an "Aggressive Port Scan".
    #[arg(long, value_name = "N", default_value_t = Detection::default().aggressive_ports)]
    pub aggressive_ports: u32,
    /// Distinct hosts from which a sweep is an "IP Block Sweep".
    #[arg(long, value_name = "N", default_value_t = Detection::default().sweep_ips)]
    pub sweep_hosts: u32,
    /// Distinct hosts from which a sweep is a "Limited IP Sweep" (fewer: "Suspicious Probe").
    #[arg(long, value_name = "N", default_value_t = Detection::default().limited_sweep_ips)]
    pub limited_sweep_hosts: u32,
    /// How many (smallest) ports PortsTargeted lists.
    #[arg(long, value_name = "N", default_value_t = Detection::default().ports_listed)]
    pub ports_listed: usize,
    /// ping-sweep: distinct hosts pinged in a bin, at least.
    #[arg(long, value_name = "N", default_value_t = Detection::default().ping_sweep_hosts)]
    pub ping_sweep_hosts: u32,
    /// small-sweep: distinct hosts with failed attempts in a bin, at least.
    #[arg(long, value_name = "N", default_value_t = Detection::default().small_sweep_hosts)]
    pub small_sweep_hosts: u32,
    /// ack-scan: distinct hosts that reset a source's ACKs in a bin, at least...
    #[arg(long, value_name = "N", default_value_t = Detection::default().ack_scan_hosts)]
    pub ack_scan_hosts: u32,
    /// ...or distinct ports.
    #[arg(long, value_name = "N", default_value_t = Detection::default().ack_scan_ports)]
    pub ack_scan_ports: u32,
    /// stealth-scan: distinct ports a source's FIN/NULL/XMAS probes reach in a bin, at least...
    #[arg(long, value_name = "N", default_value_t = Detection::default().stealth_scan_ports)]
    pub stealth_scan_ports: u32,
    /// ...or distinct hosts.
    #[arg(long, value_name = "N", default_value_t = Detection::default().stealth_scan_hosts)]
    pub stealth_scan_hosts: u32,
    /// trw: chance that a benign source's first contact succeeds...
    #[arg(long, value_name = "P", default_value_t = Detection::default().trw_theta0)]
    pub trw_theta0: f64,
    /// ...and that a scanner's does (below --trw-theta0).
    #[arg(long, value_name = "P", default_value_t = Detection::default().trw_theta1)]
    pub trw_theta1: f64,
    /// trw: wanted detection probability...
    #[arg(long, value_name = "P", default_value_t = Detection::default().trw_detection)]
    pub trw_detection: f64,
    /// ...and false-positive probability (below --trw-detection).
    #[arg(long, value_name = "P", default_value_t = Detection::default().trw_false_positive)]
    pub trw_false_positive: f64,
    /// slow-scan: distinct hosts a source's failed attempts reach within the horizon, at least...
    #[arg(long, value_name = "N", default_value_t = Detection::default().slow_scan_hosts)]
    pub slow_scan_hosts: u32,
    /// ...or distinct ports (counting only bins that no 5-minute rule reports).
    #[arg(long, value_name = "N", default_value_t = Detection::default().slow_scan_ports)]
    pub slow_scan_ports: u32,
    /// slow-scan: the horizon, in hours (at most 24).
    #[arg(long, value_name = "HOURS", default_value_t = Detection::default().slow_scan_horizon as f64 / 3600e9)]
    pub slow_scan_horizon: f64,
    /// web-probe: distinct sensitive paths (data/web-probe-paths.txt) a client asks for in a bin, mostly refused, at least.
    #[arg(long, value_name = "N", default_value_t = Detection::default().web_probe_paths)]
    pub web_probe_paths: u32,

    /// Cap on tracked (source, bin) entries; beyond it the lightest 5/8 are evicted.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_sources)]
    pub max_sources: usize,
    /// Cap on attempts awaiting an answer; beyond it the oldest is counted unanswered early.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_pending)]
    pub max_pending: usize,
    /// Cap on remembered UDP flows.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_udp_flows)]
    pub max_udp_flows: usize,
    /// Cap on distinct hosts counted per (source, bin); beyond it the count is a lower bound.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_dests_per_source)]
    pub max_hosts_per_source: usize,
    /// Cap on the memory of all port and host sets, in MiB; beyond it the lightest sources are evicted.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().max_set_bytes >> 20)]
    pub max_set_mib: usize,
    /// Cap on sources the slow-scan rule follows over its horizon; beyond it the narrowest are given up.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_slow_sources)]
    pub max_slow_sources: usize,
}

/// A CIDR, or a bare address as a /32 or /128.
fn parse_net(s: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("not a CIDR or an address: {s:?}"))
}

/// `--home`: networks, or `none`.
fn home_networks(values: &[String]) -> Result<Vec<IpNet>, Error> {
    if values.len() == 1 && values[0] == "none" {
        return Ok(Vec::new());
    }
    values
        .iter()
        .map(|v| parse_net(v).map_err(|e| Error::Usage(format!("--home: {e} (or `none`)"))))
        .collect()
}

fn seconds(what: &str, s: f64) -> Result<Nanos, Error> {
    if !(0.0..=1e9).contains(&s) {
        return Err(Error::Usage(format!(
            "--{what} must be a number of seconds >= 0, not {s}"
        )));
    }
    Ok((s * NANOS_PER_SEC as f64).round() as Nanos)
}

impl Common {
    pub fn settings(&self) -> Result<Settings, Error> {
        let bin = seconds("bin", self.bin)?;
        if bin < NANOS_PER_SEC / 1000 {
            return Err(Error::Usage("--bin must be at least 0.001 seconds".into()));
        }
        let mut allow = self.allow.clone();
        if let Some(path) = &self.allow_file {
            allow.extend(read_cidr_file(path)?);
        }
        if self.batch == 0 || self.threads == Some(0) {
            return Err(Error::Usage(
                "--batch and --threads must be at least 1".into(),
            ));
        }
        let probability = |p: f64| p > 0.0 && p < 1.0;
        if !(probability(self.trw_theta1)
            && probability(self.trw_theta0)
            && self.trw_theta1 < self.trw_theta0)
        {
            return Err(Error::Usage(
                "--trw-theta1 and --trw-theta0 must be probabilities (between 0 and 1), theta1 below theta0".into(),
            ));
        }
        if !(probability(self.trw_false_positive)
            && probability(self.trw_detection)
            && self.trw_false_positive < self.trw_detection)
        {
            return Err(Error::Usage(
                "--trw-false-positive and --trw-detection must be probabilities (between 0 and 1), the first below the second".into(),
            ));
        }
        let horizon = seconds("slow-scan-horizon", self.slow_scan_horizon * 3600.0)?;
        if !(bin..=24 * 3600 * NANOS_PER_SEC).contains(&horizon) {
            return Err(Error::Usage(format!(
                "--slow-scan-horizon {}: must be between one bin and 24 hours",
                self.slow_scan_horizon
            )));
        }
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let threads = self.threads.unwrap_or(cores);
        // More aggregators than cores only share them; twice as many (at
        // least 4, so any machine can check that results do not depend
        // on the thread count) is the most that makes sense.
        let most = (2 * cores).max(4);
        if threads > most {
            return Err(Error::Usage(format!(
                "--threads {threads}: at most {most} on this machine ({cores} cores)"
            )));
        }
        Ok(Settings {
            detection: Detection {
                bin,
                answer_timeout: seconds("answer-timeout", self.answer_timeout)?,
                min_ports: self.min_ports,
                min_ips: self.min_hosts,
                min_attempts: self.min_attempts,
                aggressive_ports: self.aggressive_ports,
                sweep_ips: self.sweep_hosts,
                limited_sweep_ips: self.limited_sweep_hosts,
                ports_listed: self.ports_listed,
                ping_sweep_hosts: self.ping_sweep_hosts,
                small_sweep_hosts: self.small_sweep_hosts,
                ack_scan_hosts: self.ack_scan_hosts,
                ack_scan_ports: self.ack_scan_ports,
                stealth_scan_ports: self.stealth_scan_ports,
                stealth_scan_hosts: self.stealth_scan_hosts,
                trw_theta0: self.trw_theta0,
                trw_theta1: self.trw_theta1,
                trw_detection: self.trw_detection,
                trw_false_positive: self.trw_false_positive,
                slow_scan_hosts: self.slow_scan_hosts,
                slow_scan_ports: self.slow_scan_ports,
                slow_scan_horizon: horizon,
                web_probe_paths: self.web_probe_paths,
                home: home_networks(&self.home)?,
                allow,
            },
            limits: Limits {
                max_sources: self.max_sources,
                max_pending: self.max_pending,
                max_udp_flows: self.max_udp_flows,
                max_dests_per_source: self.max_hosts_per_source,
                max_set_bytes: self.max_set_mib.saturating_mul(1 << 20),
                max_slow_sources: self.max_slow_sources,
                ..Limits::default()
            },
            threads,
            batch: self.batch,
            pin: self.pin,
            stats_every: None,
            progress: false,
            rules: self.rules.clone(),
            metrics: match self.metrics_listen {
                Some(addr) => Some(Metrics(Arc::new(
                    MetricsServer::bind(addr)
                        .map_err(|e| Error::Usage(format!("--metrics-listen: {e}")))?,
                ))),
                None => None,
            },
        })
    }
}

fn read_cidr_file(path: &PathBuf) -> Result<Vec<IpNet>, Error> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::input(&name, e.to_string()))?;
    let mut nets = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let net = parse_net(line)
            .map_err(|_| Error::input(&name, format!("line {}: not a CIDR: {line:?}", i + 1)))?;
        nets.push(net);
    }
    Ok(nets)
}

impl Command {
    pub fn live_options(&self) -> Option<(LiveOptions, Option<Duration>)> {
        match self {
            Command::Live {
                no_promisc,
                filter,
                buffer_mib,
                snaplen,
                stats_interval,
                ..
            } => Some((
                LiveOptions {
                    promiscuous: !no_promisc,
                    snaplen: (*snaplen).clamp(64, 65535) as i32,
                    buffer_bytes: (*buffer_mib as i64 * 1024 * 1024).min(i32::MAX as i64) as i32,
                    filter: filter.clone(),
                    ..LiveOptions::default()
                },
                (*stats_interval > 0).then(|| Duration::from_secs(*stats_interval)),
            )),
            Command::Replay { .. } | Command::Generate { .. } | Command::CheckConfig { .. } => None,
        }
    }
}
