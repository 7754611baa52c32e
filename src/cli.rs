//! The command line (SPEC §9). Doc comments here are the `--help` text.
//!
//! Global options are accepted before or after the subcommand
//! (`ops-monitor tick --config-file X`), as crontabs written for the Python
//! version put them.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::Lang;

/// Watch long-running scripts and report on them through Telegram — no
/// language model in the loop.
#[derive(Debug, Parser)]
#[command(name = "ops-monitor", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The job config [default: $OPENCLAW_HOME/net/config/ops-jobs.json]
    #[arg(long, global = true, env = "OPS_MONITOR_CONFIG", value_name = "PATH")]
    pub config_file: Option<String>,

    /// The state file [default: $OPENCLAW_HOME/net/state/ops-monitor.json]
    #[arg(long, global = true, env = "OPS_MONITOR_STATE", value_name = "PATH")]
    pub state_file: Option<String>,

    /// How long to wait for another run's lock before giving up (exit 75)
    #[arg(long, global = true, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub lock_timeout: Duration,

    /// More output on stderr
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less output: errors only
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One monitoring pass: run status commands, decide, report (for cron/timers)
    Tick(TickArgs),
    /// Check the job config and report every problem at once
    ValidateConfig {
        /// Unknown keys are errors, not warnings
        #[arg(long)]
        strict: bool,
    },
    /// One line per job, the queue, the outbox, silences and the last tick
    Status {
        /// The same as one JSON document
        #[arg(long)]
        json: bool,
    },
    /// Run a long_running_read job's start command
    Start {
        job: String,
        /// Allow a job whose risk is not read_only
        #[arg(long)]
        allow_risk: bool,
        /// Start it even if its status says it is running or cannot be read
        #[arg(long)]
        force: bool,
        #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
        timeout_seconds: f64,
    },
    /// Run a job's stop command, else SIGTERM the pid its status reports
    Stop {
        job: String,
        /// Allow a stop command of a job whose risk is not read_only
        #[arg(long)]
        allow_risk: bool,
        #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
        timeout_seconds: f64,
    },
    /// Run a one_shot_read job, or an approved one_shot_write job
    Run {
        job: String,
        /// Say what would run, run nothing
        #[arg(long)]
        dry_run: bool,
        #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
        timeout_seconds: f64,
    },
    /// Approve one run of a one_shot_write job
    Approve {
        job: String,
        /// How long the approval stays good
        #[arg(long = "for", default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
        for_: Duration,
        /// Why, for the record
        #[arg(long)]
        note: Option<String>,
    },
    /// Take back an approval given with `approve`
    Revoke { job: String },
    /// Hold back every report of a job (or all jobs) for a while
    Silence {
        #[command(flatten)]
        which: Which,
        /// How long (90s, 15m, 2h, 1d)
        #[arg(long = "for", value_parser = parse_duration, value_name = "DURATION")]
        for_: Duration,
        #[arg(long)]
        reason: Option<String>,
    },
    /// End a silence
    Unsilence {
        #[command(flatten)]
        which: Which,
    },
    /// Deliver a one-off message through the configured channels
    Notify {
        text: String,
        /// Telegram chat id (wins over the configured targets; groups are negative)
        #[arg(long, allow_hyphen_values = true)]
        target: Option<String>,
    },
    /// The undelivered messages; `retry` tries them now, `drop` gives them up
    Outbox {
        #[command(subcommand)]
        action: Option<OutboxAction>,
    },
    /// The stored output of a job's last start, stop and run, and its queue items
    Logs { job: String },
    /// Why the last tick did or did not report a job, and what would make the next one
    Explain { job: String },
    /// Where every file is and why, what delivery would use, and lint
    /// warnings for the config — without sending anything or showing a secret
    Doctor {
        /// Send one test message through every channel
        #[arg(long)]
        send_test: bool,
    },
    /// Write a starter job config with checks of this host, and say what to do next
    ///
    /// At the default place (`<home>/net/config/ops-jobs.json`, or
    /// `--config-file`): checks of the disk of / and of the OpenClaw home,
    /// memory and load, every 5 minutes, naming this binary by its absolute
    /// path; a disabled example long job with its scripts under
    /// `<home>/net/jobs/example/`; the config's JSON Schema beside it.
    /// Never writes over an existing file. Never reads the config.
    Init {
        /// Replace existing files, keeping each as NAME.bak
        #[arg(long)]
        force: bool,
    },
    /// An offline end-to-end check of this installation
    Selftest,
    /// Print the config JSON Schema
    Schema,
    /// Print a shell completion script
    Completions { shell: clap_complete::Shell },
    /// A built-in read-only check of this host, for a one_shot_read job's `run`
    ///
    /// Prints one line in the Nagios plugin format (`DISK OK - / 42% used |
    /// used_pct=42;80;95`) and exits 0 OK, 1 WARNING, 2 CRITICAL or 3
    /// UNKNOWN (also for a usage error). A value at or above a threshold
    /// reaches it. Never reads the config or the state.
    Check(CheckArgs),
}

/// `check …`: what to measure, and its thresholds in the check's own unit.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    #[command(subcommand)]
    pub what: CheckWhat,
}

#[derive(Debug, Clone, Subcommand)]
pub enum CheckWhat {
    /// Used space of the file system holding a path, in %
    Disk {
        /// A path on the file system to measure
        #[arg(long, default_value = "/", value_name = "PATH")]
        path: String,
        /// WARNING at this used % or more
        #[arg(long, default_value = "80", value_parser = parse_percent, value_name = "PERCENT")]
        warn: f64,
        /// CRITICAL at this used % or more
        #[arg(long, default_value = "95", value_parser = parse_percent, value_name = "PERCENT")]
        crit: f64,
    },
    /// Used memory (total − available), in %
    Memory {
        /// WARNING at this used % or more
        #[arg(long, default_value = "75", value_parser = parse_percent, value_name = "PERCENT")]
        warn: f64,
        /// CRITICAL at this used % or more
        #[arg(long, default_value = "90", value_parser = parse_percent, value_name = "PERCENT")]
        crit: f64,
    },
    /// The 1-minute load average per CPU core
    Load {
        /// WARNING at this load per core or more
        #[arg(long, default_value = "0.7", value_parser = parse_number, value_name = "LOAD")]
        warn: f64,
        /// CRITICAL at this load per core or more
        #[arg(long, default_value = "0.9", value_parser = parse_number, value_name = "LOAD")]
        crit: f64,
    },
    /// How long ago a file was last modified (a heartbeat file); missing is CRITICAL
    FileAge {
        /// The file
        #[arg(long, value_name = "PATH")]
        path: String,
        /// WARNING at this age or more (90s, 15m, 2h, 1d)
        #[arg(long, default_value = "2m", value_parser = parse_duration, value_name = "DURATION")]
        warn: Duration,
        /// CRITICAL at this age or more (90s, 15m, 2h, 1d)
        #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
        crit: Duration,
    },
    /// An HTTP GET's response time, in ms; a wrong status or no answer is CRITICAL
    ///
    /// Redirects are not followed (a redirect is a wrong status). The
    /// request waits at most the critical threshold plus one second (at
    /// most 55 s), through the proxy of the environment, never for loopback.
    Http {
        /// The URL to fetch (http or https)
        #[arg(long, value_name = "URL")]
        url: String,
        /// The status the answer must have
        #[arg(long, default_value_t = 200, value_name = "CODE")]
        expect_status: u16,
        /// WARNING at this response time or more (ms; or 5s)
        #[arg(long, default_value = "5000", value_parser = parse_millis, value_name = "MS")]
        warn: f64,
        /// CRITICAL at this response time or more (ms; or 15s)
        #[arg(long, default_value = "15000", value_parser = parse_millis, value_name = "MS")]
        crit: f64,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// Try every waiting message of a configured channel now
    Retry,
    /// Give up a waiting message (by the id `outbox` shows), or all of them
    Drop {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct Which {
    /// The job
    pub job: Option<String>,
    /// Every job
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Args)]
pub struct TickArgs {
    /// Print the report instead of delivering it
    #[arg(long)]
    pub print_only: bool,
    /// Start nothing, run nothing but status commands, write no state
    #[arg(long)]
    pub dry_run: bool,
    /// Telegram chat id (wins over the configured targets; groups are negative)
    #[arg(long, allow_hyphen_values = true)]
    pub target: Option<String>,
    /// Report language [default: defaults.language, else en]
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,
    /// Most status commands running at once
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,
    /// Write the jobs' state here for node_exporter's textfile collector
    /// (a *.prom file) [default: defaults.metricsFile]
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<String>,
}

/// The longest duration accepted on the command line: ten years.
const MAX_DURATION_SECONDS: f64 = 3650.0 * 86400.0;

/// A threshold number: finite and zero or more.
pub fn parse_number(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(n),
        _ => Err(format!("invalid number {text:?}: must be zero or more")),
    }
}

/// A percentage `0`–`100`, with or without `%`.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let n = parse_number(text.trim().trim_end_matches('%'))?;
    if n > 100.0 {
        return Err(format!("invalid percentage {text:?}: must be 0 to 100"));
    }
    Ok(n)
}

/// Milliseconds: a plain number (`5000`), or a duration with its unit
/// (`5s`, `250ms`).
pub fn parse_millis(text: &str) -> Result<f64, String> {
    if text.trim().ends_with(|c: char| c.is_ascii_alphabetic()) {
        parse_duration(text).map(|d| d.as_secs_f64() * 1000.0)
    } else {
        parse_number(text)
    }
}

/// `90s`, `15m`, `2h`, `1d`, or plain seconds (`30`, `0.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: use 90s, 15m, 2h or 1d"))?;
    let mult = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => {
            return Err(format!(
                "invalid duration unit in {text:?}: use s, m, h or d"
            ))
        }
    };
    if !n.is_finite() || n < 0.0 {
        return Err(format!("invalid duration {text:?}: must be zero or more"));
    }
    let secs = n * mult;
    // Ten years is more than any wait, silence or time limit means; beyond,
    // `18000000000000000000` is a typo, not a plan — and adding it to the
    // clock would overflow (SPEC §9: a usage error, never a panic).
    if secs > MAX_DURATION_SECONDS {
        return Err(format!("invalid duration {text:?}: at most 3650d"));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("invalid duration {text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("18000000000000000000").is_err());
        assert!(parse_duration("1e19").is_err());
        assert_eq!(
            parse_duration("3650d"),
            Ok(Duration::from_secs(3650 * 86400))
        );
    }

    #[test]
    fn global_options_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "ops-monitor",
            "tick",
            "--config-file",
            "x.json",
            "--print-only",
        ])
        .unwrap();
        assert_eq!(cli.global.config_file.as_deref(), Some("x.json"));
    }
}
