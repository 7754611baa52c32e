//! Beyond one host (SPEC §10): what a tick hands to the engines that watch
//! a fleet — a Prometheus text file for node_exporter ([`metrics`]), the
//! current alerts for Alertmanager ([`alertmanager`]), and a dead-man's
//! ping ([`heartbeat`]).
//!
//! `tick` calls three functions here and decides nothing about them:
//! [`Fleet::post_alerts`] after the report's delivery (Alertmanager is a
//! channel), [`Fleet::write_metrics`] and [`Fleet::ping`] once the state is
//! saved (the metrics and the ping describe the tick as it ended). None of them is ever held
//! back by a silence or quiet hours (SPEC §11), and none is ever fatal: a
//! failure is printed, and only a failed Alertmanager post changes the exit
//! code (3).
//!
//! What a tick knows is gathered in [`TickFacts`]; the metrics text, the
//! alert list and the ping's summary are pure functions of it and the state.

pub mod alertmanager;
pub mod heartbeat;
pub mod metrics;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{AlertmanagerChannel, Config, Defaults};
use crate::deliver::Context;
use crate::exit::Code;
use crate::out::errln;
use crate::state::State;
use crate::status::Observation;

/// Where a tick's facts go, from the config (or `--metrics-file`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fleet {
    pub metrics_file: Option<PathBuf>,
    /// A secret: never printed or stored.
    pub heartbeat_url: Option<String>,
    pub alertmanager: Vec<AlertmanagerChannel>,
}

/// How the tick treats the outside world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Post the alerts; write the metrics; ping.
    Send,
    /// `--print-only`: print what Alertmanager would get (it is a channel);
    /// the metrics and the ping are not channels and still happen.
    PrintOnly,
    /// `--dry-run`: print what Alertmanager would get; write and ping nothing.
    DryRun,
}

/// What one tick saw.
#[derive(Debug, Clone)]
pub struct TickFacts<'a> {
    /// The config the jobs were watched with; `None` when none could be read.
    pub config: Option<&'a Config>,
    /// Whether the config file itself is valid.
    pub config_valid: bool,
    /// Why the config is invalid (its problems), when it is.
    pub config_error: Option<String>,
    /// This tick's status of each long job it watched, by job id.
    pub observed: BTreeMap<String, Observation>,
    /// The tick's time (Unix seconds).
    pub now: f64,
    /// The previous tick's time, from the state.
    pub previous_tick_at: Option<f64>,
    /// This host's name (the `host` label, the ping's summary).
    pub host: String,
}

impl Fleet {
    /// `--metrics-file` wins over `defaults.metricsFile`; `defaults` is the
    /// config's (or what could be read of an invalid one).
    pub fn new(metrics_file: Option<&Path>, defaults: Option<&Defaults>) -> Fleet {
        Fleet {
            metrics_file: metrics_file
                .map(Path::to_path_buf)
                .or_else(|| defaults.and_then(|d| d.metrics_file.clone())),
            heartbeat_url: defaults
                .and_then(|d| d.heartbeat_url.clone())
                .filter(|u| !u.trim().is_empty()),
            alertmanager: defaults.map(|d| d.alertmanager.clone()).unwrap_or_default(),
        }
    }

    /// Post the current alerts to every Alertmanager channel (or print them),
    /// and record what was posted in the state. Returns whether a post
    /// failed (the tick then exits 3; the next tick posts again).
    /// The posts share `ctx`'s delivery budget.
    pub fn post_alerts(
        &self,
        st: &mut State,
        facts: &TickFacts,
        mode: Mode,
        ctx: &Context,
    ) -> bool {
        if self.alertmanager.is_empty() {
            return false;
        }
        alertmanager::post_all(&self.alertmanager, st, facts, mode, ctx)
    }

    /// After the state is saved: write the metrics file, printing a
    /// failure. `code` is the tick's exit code. Every tick but `--dry-run`
    /// writes it (SPEC §10), one stopped by a signal too: it is a quick
    /// local write, and the interrupted tick is a fact worth a sample.
    pub fn write_metrics(&self, st: &State, facts: &TickFacts, code: Code, duration: Duration) {
        if let Some(path) = &self.metrics_file {
            let text = metrics::render(facts, st, code, duration.as_secs_f64());
            if let Err(e) = metrics::write(path, &text) {
                errln!("metrics: cannot write {}: {e}", path.display());
            }
        }
    }

    /// After the state is saved: the heartbeat ping, printing a failure.
    pub fn ping(&self, st: &State, facts: &TickFacts, code: Code) {
        if let Some(url) = &self.heartbeat_url {
            let ping = heartbeat::Ping::of(facts, st, code);
            if let Err(e) = heartbeat::send(url, &ping) {
                errln!("heartbeat: ping failed (not fatal): {e}");
            }
        }
    }
}

/// Bytes of an HTTP answer read at most (only its start is ever shown).
const ANSWER_LIMIT: u64 = 64 * 1024;

/// One HTTP POST with one deadline for the whole request and no redirects
/// (a redirect is a failure). The error never holds the URL — a heartbeat
/// URL is a secret — and names a redirect's target only when
/// `show_location` says it may.
pub(crate) fn post(
    url: &str,
    content_type: &str,
    body: Vec<u8>,
    headers: &BTreeMap<String, String>,
    timeout: Duration,
    show_location: bool,
) -> Result<(), String> {
    let client = http_client(url, timeout)?;
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().map_err(|e| error_text(e.without_url()))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    if status.is_redirection() {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .filter(|_| show_location)
            .map(|l| format!(" to {l}"))
            .unwrap_or_default();
        return Err(format!("HTTP {status}: redirect{location} not followed"));
    }
    let mut answer = Vec::new();
    let _ = response.take(ANSWER_LIMIT).read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let first: String = answer
        .trim()
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    Err(if first.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {first}")
    })
}

/// The HTTP client of the fleet's requests and of `check http`: one
/// deadline for the whole request, no redirects, no referer, loopback never
/// through a proxy (others through the environment's).
pub(crate) fn http_client(
    url: &str,
    timeout: Duration,
) -> Result<reqwest::blocking::Client, String> {
    let mut builder = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .user_agent(concat!("ops-monitor/", env!("CARGO_PKG_VERSION")));
    if crate::deliver::is_loopback(url) {
        builder = builder.no_proxy();
    }
    builder.build().map_err(|e| error_text(e.without_url()))
}

/// An error and its causes on one line (one wording with delivery's).
pub(crate) fn error_text(err: reqwest::Error) -> String {
    crate::deliver::error_chain(&err)
}

/// A URL without its user and password, for output.
pub(crate) fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            if !u.username().is_empty() || u.password().is_some() {
                let _ = u.set_username("");
                let _ = u.set_password(None);
            }
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// Unix seconds as RFC 3339 UTC with milliseconds, as Alertmanager writes them.
pub(crate) fn rfc3339(t: f64) -> String {
    let ms = (t * 1000.0).round() as i64;
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A valid config of these jobs, for the fleet's tests.
#[cfg(test)]
pub(crate) fn test_config(jobs: serde_json::Value) -> Config {
    let doc = serde_json::json!({"version": 1, "jobs": jobs});
    crate::config::parse(
        &doc.to_string(),
        Path::new("/tmp/x/ops-jobs.json"),
        Path::new("/tmp"),
        false,
    )
    .expect("test config is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_url_drops_the_password() {
        assert_eq!(shown_url("http://user:SECRET@am:9093/"), "http://am:9093/");
        assert_eq!(shown_url("http://am:9093"), "http://am:9093/");
    }

    #[test]
    fn times_are_utc_with_milliseconds() {
        assert_eq!(rfc3339(1_795_262_400.25), "2026-11-21T12:00:00.250Z");
    }

    #[test]
    fn cli_path_wins_over_the_config() {
        let d = Defaults {
            metrics_file: Some("/a.prom".into()),
            heartbeat_url: Some(" ".into()),
            ..Defaults::default()
        };
        let f = Fleet::new(Some(Path::new("/b.prom")), Some(&d));
        assert_eq!(f.metrics_file.as_deref(), Some(Path::new("/b.prom")));
        assert_eq!(f.heartbeat_url, None, "a blank URL pings nothing");
        assert_eq!(
            Fleet::new(None, Some(&d)).metrics_file.as_deref(),
            Some(Path::new("/a.prom"))
        );
    }
}
