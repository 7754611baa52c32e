//! The dead-man's ping (SPEC §10), in the healthchecks.io convention: each
//! tick ends with a request to `URL` when all is well, or to `URL/fail`
//! when the tick found an alert (the same list Alertmanager gets) or
//! failed, with a short summary as the body. A host or a monitor that
//! stopped ticking is then noticed by the service.
//!
//! The URL is a secret (it is the check's only credential): it is never
//! printed, logged or stored — errors name neither it nor a redirect's
//! target. The ping has a 10 s limit, follows no redirect, and is never
//! fatal. It is not a channel: `--print-only` ticks ping too, `--dry-run`
//! ticks never do.

use std::collections::BTreeMap;
use std::time::Duration;

use super::alertmanager::problems;
use super::TickFacts;
use crate::exit::Code;
use crate::state::State;

/// Time limit of the ping.
pub const PING_TIMEOUT: Duration = Duration::from_secs(10);
/// Most problems named in the summary.
const NAMED: usize = 10;

/// What to ping.
#[derive(Debug, Clone, PartialEq)]
pub struct Ping {
    pub ok: bool,
    /// The body: a short summary of the tick.
    pub summary: String,
}

impl Ping {
    /// The ping for a tick that ended with `code` (pure).
    pub fn of(facts: &TickFacts, st: &State, code: Code) -> Ping {
        let found = problems(facts, st);
        let ok = found.is_empty() && code == Code::Ok;
        let watched = facts.observed.len();
        let mut summary = format!(
            "ops-monitor tick on {}: {}, exit {}, {watched} long job(s) watched, {} problem(s)",
            facts.host,
            if ok { "ok" } else { "FAIL" },
            code.as_u8(),
            found.len()
        );
        for p in found.iter().take(NAMED) {
            let summary_line = p.annotations.get("summary").map(String::as_str);
            summary.push_str(&format!(
                "\n{} {}: {}",
                p.alertname(),
                p.subject().unwrap_or("-"),
                summary_line.unwrap_or("")
            ));
        }
        if found.len() > NAMED {
            summary.push_str(&format!("\n… and {} more", found.len() - NAMED));
        }
        Ping { ok, summary }
    }
}

/// `URL` for success, `URL/fail` for a failure (`/fail` is added to the
/// path; a query string is kept).
pub fn target(url: &str, ok: bool) -> String {
    if ok {
        return url.to_string();
    }
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let path = format!("{}/fail", u.path().trim_end_matches('/'));
            u.set_path(&path);
            u.to_string()
        }
        Err(_) => format!("{}/fail", url.trim_end_matches('/')),
    }
}

/// Send the ping. The error never contains the URL.
pub fn send(url: &str, ping: &Ping) -> Result<(), String> {
    super::post(
        &target(url, ping.ok),
        "text/plain; charset=utf-8",
        ping.summary.clone().into_bytes(),
        &BTreeMap::new(),
        PING_TIMEOUT,
        false,
    )
    .map_err(|e| redact(&e, url))
}

/// Belt and braces: the URL (and its path, which is the check's key) out
/// of an error text.
fn redact(text: &str, url: &str) -> String {
    let mut out = text.replace(url, "<redacted>");
    if let Ok(u) = reqwest::Url::parse(url) {
        let path = u.path().trim_matches('/');
        if path.len() >= 8 {
            out = out.replace(path, "<redacted>");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_is_added_to_the_path() {
        let u = "https://hc-ping.com/1234-abcd";
        assert_eq!(target(u, true), u);
        assert_eq!(target(u, false), "https://hc-ping.com/1234-abcd/fail");
        assert_eq!(
            target("https://hc.example/ping/abc/?x=1", false),
            "https://hc.example/ping/abc/fail?x=1"
        );
    }

    #[test]
    fn errors_never_show_the_url() {
        let u = "https://hc-ping.com/1234-abcd-SECRET";
        let e = redact("failed for https://hc-ping.com/1234-abcd-SECRET/fail", u);
        assert!(!e.contains("SECRET"), "{e}");
    }
}
