//! From the parsed JSON to [`Config`]: every fallback applied, every path
//! made absolute, and the rules that look across jobs.
//!
//! It runs after the schema check and must not repeat its errors, so it
//! reads leniently: a value of the wrong type is skipped here (the schema
//! already reported it) and the job is left out; the caller only uses the
//! result when no error was found at all.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{Map, Value};

use super::python::{hhmm, Readings};
use super::{
    user_path, After, AlertmanagerChannel, Approval, Channel, Defaults, Found, Job, JsonPath, Kind,
    Lang, Policy, QuietHours, Risk, When,
};

/// Resolve defaults and jobs, adding cross-job errors and the warnings
/// about values that fall back. `None` when something could not be
/// resolved (an error was reported for it).
pub(super) fn resolve(
    value: &Value,
    readings: &Readings,
    base: &Path,
    home: &Path,
    found: &mut Found,
) -> Option<(Defaults, Vec<Job>)> {
    let top = value.as_object()?;
    let empty = Map::new();
    let defaults_obj = top
        .get("defaults")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let defaults = resolve_defaults(defaults_obj, base);
    let mut default_policy = resolve_policy(defaults_obj, &Policy::default());
    // Negative numbers in `defaults` are used as given, as the Python
    // version uses them (the canonical form has no place for them).
    for &(key, n) in &readings.negative_defaults {
        match key {
            "reportEverySeconds" => default_policy.report_every_seconds = n,
            "stallSeconds" => default_policy.stall_seconds = n,
            _ => default_policy.auto_resume_backoff_seconds = n,
        }
    }

    let raw_jobs: &[Value] = top.get("jobs").and_then(Value::as_array).map_or(&[], |v| v);
    let heads: Vec<Head> = raw_jobs.iter().map(Head::read).collect();
    let index = index_ids(&heads, found);

    let mut jobs = Vec::with_capacity(raw_jobs.len());
    let mut complete = top.get("jobs").is_some_and(Value::is_array);
    for (i, (raw, head)) in raw_jobs.iter().zip(&heads).enumerate() {
        let job = raw.as_object().and_then(|obj| {
            resolve_job(
                i,
                obj,
                head,
                &heads,
                &index,
                &default_policy,
                base,
                home,
                found,
            )
        });
        match job {
            Some(job) => jobs.push(job),
            None => complete = false,
        }
    }
    complete.then_some((defaults, jobs))
}

/// What the cross-job rules need to know about a job, read once.
struct Head<'v> {
    id: Option<&'v str>,
    kind: Option<Kind>,
    risk: Option<Risk>,
}

impl<'v> Head<'v> {
    fn read(raw: &'v Value) -> Self {
        let str_of = |key: &str| raw.get(key).and_then(Value::as_str);
        Head {
            id: str_of("id").map(str::trim).filter(|s| !s.is_empty()),
            kind: str_of("kind").and_then(kind_of),
            risk: str_of("risk").and_then(risk_of),
        }
    }
}

fn kind_of(s: &str) -> Option<Kind> {
    [Kind::LongRunningRead, Kind::OneShotRead, Kind::OneShotWrite]
        .into_iter()
        .find(|k| k.as_str() == s)
}

fn risk_of(s: &str) -> Option<Risk> {
    [Risk::ReadOnly, Risk::WriteLocal, Risk::WriteExternal]
        .into_iter()
        .find(|r| r.as_str() == s)
}

/// Trimmed id → index of the first job with it; a repeated id is an error.
fn index_ids<'v>(heads: &[Head<'v>], found: &mut Found) -> HashMap<&'v str, usize> {
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(heads.len());
    for (i, head) in heads.iter().enumerate() {
        let Some(id) = head.id else { continue };
        if let Some(first) = index.get(id) {
            found.error(
                JsonPath::job(i).key("id"),
                format!(
                    "duplicate id {} (already used by jobs[{first}]; ids must be unique after trimming)",
                    Value::from(id)
                ),
            );
        } else {
            index.insert(id, i);
        }
    }
    index
}

#[allow(clippy::too_many_arguments)]
fn resolve_job(
    i: usize,
    obj: &Map<String, Value>,
    head: &Head<'_>,
    heads: &[Head<'_>],
    index: &HashMap<&str, usize>,
    default_policy: &Policy,
    base: &Path,
    home: &Path,
    found: &mut Found,
) -> Option<Job> {
    let at = || JsonPath::job(i);
    let kind = head.kind;
    let risk = head.risk;

    if kind == Some(Kind::OneShotRead) {
        if let Some(r) = risk.filter(|r| *r != Risk::ReadOnly) {
            found.warn(
                at().key("risk"),
                format!(
                    "a one_shot_read job with risk \"{}\" is never run (run and the queue refuse it)",
                    r.as_str()
                ),
            );
        }
    }

    let enabled = match obj.get("enabled") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            found.tolerated(
                at().key("enabled"),
                format!("not true or false (got {other}), treated as disabled"),
            );
            false
        }
    };

    // Trimmed, as the Python version shows it.
    let name = match obj.get("name").and_then(Value::as_str) {
        Some(n) if !n.trim().is_empty() => n.trim().to_string(),
        _ => head.id.unwrap_or_default().to_string(),
    };

    let cwd = match obj.get("cwd") {
        None => home.to_path_buf(),
        Some(Value::String(s)) if !s.trim().is_empty() => {
            relative_cwd_differs(s, base, at().key("cwd"), found);
            user_path(s, base)
        }
        Some(_) => return None,
    };

    let mut commands = BTreeMap::new();
    for (cmd, argv) in obj.get("commands").and_then(Value::as_object)? {
        commands.insert(cmd.clone(), argv_of(argv)?);
    }

    let empty = Map::new();
    let policy_obj = match obj.get("policy") {
        None => &empty,
        Some(p) => p.as_object()?,
    };
    let mut policy = resolve_policy(policy_obj, default_policy);
    if kind.is_some_and(|k| k != Kind::OneShotRead) {
        if policy_obj.contains_key("everySeconds") {
            found.warn(
                at().key("policy").key("everySeconds"),
                "only used by one_shot_read jobs (ignored)",
            );
        }
        policy.every_seconds = None;
    }

    let approval = match (kind, obj.get("approval")) {
        (Some(Kind::OneShotWrite), a) => {
            let a = a.and_then(Value::as_object).unwrap_or(&empty);
            Some(Approval {
                required: a.get("required").and_then(Value::as_bool).unwrap_or(true),
                granted: a.get("granted").and_then(Value::as_bool).unwrap_or(false),
            })
        }
        (Some(_), Some(_)) => {
            found.warn(
                at().key("approval"),
                "only used by one_shot_write jobs (ignored)",
            );
            None
        }
        _ => None,
    };

    let after = resolve_after(i, obj, head, heads, index, found);

    Some(Job {
        id: head.id?.to_string(),
        name,
        kind: kind?,
        risk: risk?,
        enabled,
        cwd,
        commands,
        policy,
        approval,
        after: after?,
    })
}

/// The job's `after` entries; checks that each names a job, and that a
/// `one_shot_write` has its verification step.
fn resolve_after(
    i: usize,
    obj: &Map<String, Value>,
    head: &Head<'_>,
    heads: &[Head<'_>],
    index: &HashMap<&str, usize>,
    found: &mut Found,
) -> Option<Vec<After>> {
    let at = || JsonPath::job(i).key("after");
    let entries: &[Value] = match obj.get("after") {
        None => &[],
        Some(Value::Array(a)) => a,
        Some(_) => return None,
    };
    let mut after = Vec::with_capacity(entries.len());
    let mut complete = true;
    let mut verified = false;
    for (k, entry) in entries.iter().enumerate() {
        let job_id = entry
            .get("jobId")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let when = match entry.get("when").map(Value::as_str) {
            None => Some(When::Success),
            Some(Some("success")) => Some(When::Success),
            Some(Some("failure")) => Some(When::Failure),
            Some(_) => None,
        };
        let delay = match entry.get("delaySeconds") {
            None => Some(0.0),
            Some(d) => d.as_f64().filter(|d| *d >= 0.0),
        };
        if let Some(id) = job_id {
            match index.get(id) {
                // The Python version accepts this on a read job (it never
                // queues anything); a write job's verification must exist.
                None if head.kind != Some(Kind::OneShotWrite) && head.kind.is_some() => {
                    found.tolerated(
                        at().index(k).key("jobId"),
                        format!(
                            "no job with id {} in this file: the entry is ignored",
                            Value::from(id)
                        ),
                    );
                    continue;
                }
                None => found.error(
                    at().index(k).key("jobId"),
                    format!("no job with id {} in this file", Value::from(id)),
                ),
                Some(&target) => {
                    if target == i {
                        found.warn(
                            at().index(k).key("jobId"),
                            "names the job itself, so every run queues another",
                        );
                    }
                    let t = &heads[target];
                    let is_check =
                        matches!(t.kind, Some(Kind::OneShotRead | Kind::LongRunningRead))
                            && t.risk == Some(Risk::ReadOnly);
                    if is_check && when == Some(When::Success) {
                        verified = true;
                    }
                }
            }
        }
        match (entry.is_object(), job_id, when, delay) {
            (true, Some(id), Some(when), Some(delay_seconds)) => after.push(After {
                job_id: id.to_string(),
                when,
                delay_seconds,
            }),
            _ => complete = false,
        }
    }
    // Without ids and kinds to look at, the schema has already complained
    // and this rule would only add noise.
    let checkable = entries.iter().all(|e| {
        e.get("jobId")
            .and_then(Value::as_str)
            .and_then(|id| index.get(id.trim()))
            .is_some_and(|&t| heads[t].kind.is_some() && heads[t].risk.is_some())
    });
    if head.kind == Some(Kind::OneShotWrite) && !verified && (checkable || entries.is_empty()) {
        found.error(
            at(),
            "a one_shot_write job needs a verification step: an entry with \"when\": \"success\" \
             whose job is a one_shot_read or long_running_read with risk \"read_only\"",
        );
    }
    complete.then_some(after)
}

fn argv_of(value: &Value) -> Option<Vec<String>> {
    let items = value.as_array().filter(|a| !a.is_empty())?;
    items
        .iter()
        .map(|s| s.as_str().filter(|s| !s.is_empty()).map(str::to_string))
        .collect()
}

/// Each policy key from `obj`, else from `fallback`. The Python readings
/// (`python::read`) have already removed what falls back, with a warning.
fn resolve_policy(obj: &Map<String, Value>, fallback: &Policy) -> Policy {
    let seconds = |key: &str, or: f64| {
        obj.get(key)
            .and_then(Value::as_f64)
            .filter(|s| *s >= 0.0)
            .unwrap_or(or)
    };
    let flag = |key: &str, or: bool| obj.get(key).and_then(Value::as_bool).unwrap_or(or);
    let quiet_hours = obj
        .get("quietHours")
        .and_then(quiet_hours_of)
        .unwrap_or(fallback.quiet_hours);
    Policy {
        report_every_seconds: seconds("reportEverySeconds", fallback.report_every_seconds),
        only_on_change: flag("onlyOnChange", fallback.only_on_change),
        report_while_running: flag("reportWhileRunning", fallback.report_while_running),
        stall_seconds: seconds("stallSeconds", fallback.stall_seconds),
        auto_resume: flag("autoResume", fallback.auto_resume),
        auto_resume_backoff_seconds: seconds(
            "autoResumeBackoffSeconds",
            fallback.auto_resume_backoff_seconds,
        ),
        quiet_hours,
        status_timeout_seconds: obj
            .get("statusTimeoutSeconds")
            .and_then(Value::as_f64)
            .filter(|s| *s > 0.0)
            .unwrap_or(fallback.status_timeout_seconds),
        timeout_seconds: obj
            .get("timeoutSeconds")
            .and_then(Value::as_f64)
            .filter(|s| *s > 0.0)
            .or(fallback.timeout_seconds),
        every_seconds: match obj.get("everySeconds") {
            None => fallback.every_seconds,
            Some(v) => v.as_f64().filter(|s| *s >= 0.0),
        },
    }
}

fn quiet_hours_of(value: &Value) -> Option<QuietHours> {
    let obj = value.as_object()?;
    let minute = |key: &str| obj.get(key).and_then(Value::as_str).and_then(clock_minute);
    Some(QuietHours {
        start_minute: minute("start")?,
        end_minute: minute("end")?,
    })
}

/// `HH:MM`, 00:00 to 23:59 → minutes after midnight (the same rule as the
/// schema's `clockTime` pattern and the Python version's `_parse_hhmm`).
fn clock_minute(text: &str) -> Option<u32> {
    let t = hhmm(text)?;
    let (h, m) = t.split_once(':')?;
    Some(h.parse::<u32>().ok()? * 60 + m.parse::<u32>().ok()?)
}

/// A relative `cwd` is taken from the config file's folder; the Python
/// version takes it from the folder it runs in. Warn when the two differ
/// for this process.
fn relative_cwd_differs(cwd: &str, base: &Path, at: JsonPath, found: &mut Found) {
    if cwd.starts_with('~') || Path::new(cwd).is_absolute() {
        return;
    }
    let Ok(here) = std::env::current_dir() else {
        return;
    };
    if here == base {
        return;
    }
    found.warn_shared(
        at,
        format!(
            "{} is taken from the config file's folder ({}); ops-monitor.py would take it from \
             the folder it runs in ({})",
            Value::from(cwd),
            base.join(cwd).display(),
            here.join(cwd).display()
        ),
    );
}

/// The channels of a `defaults` object's `notify` list, if it has one.
pub(super) fn notify_of(obj: &Map<String, Value>, base: &Path) -> Option<Vec<Channel>> {
    obj.get("notify").and_then(Value::as_array).map(|list| {
        list.iter()
            .filter_map(|c| channel_of(c, base))
            .collect::<Vec<_>>()
    })
}

pub(super) fn resolve_defaults(obj: &Map<String, Value>, base: &Path) -> Defaults {
    let notify = notify_of(obj, base);
    Defaults {
        language: match obj.get("language").and_then(Value::as_str) {
            Some("zh") => Lang::Zh,
            _ => Lang::En,
        },
        notify,
        alertmanager: alertmanager_channels(obj.get("notify")),
        metrics_file: obj
            .get("metricsFile")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(|s| user_path(s, base)),
        heartbeat_url: obj
            .get("heartbeatUrl")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

/// The `alertmanager` entries of `notify` (`channel_of` leaves them out).
fn alertmanager_channels(notify: Option<&Value>) -> Vec<AlertmanagerChannel> {
    let strings = |v: Option<&Value>| -> BTreeMap<String, String> {
        v.and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    };
    notify
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("type").and_then(Value::as_str) == Some("alertmanager"))
        .filter_map(|c| {
            Some(AlertmanagerChannel {
                url: c.get("url")?.as_str()?.to_string(),
                labels: strings(c.get("labels")),
                headers: strings(c.get("headers")),
            })
        })
        .collect()
}

fn channel_of(value: &Value, base: &Path) -> Option<Channel> {
    let str_of = |key: &str| value.get(key).and_then(Value::as_str);
    match str_of("type")? {
        "telegram" => Some(Channel::Telegram {
            target: match value.get("target") {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
                Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(n.to_string()),
                _ => None,
            },
            account: str_of("account")
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string),
        }),
        "webhook" => Some(Channel::Webhook {
            url: str_of("url")?.to_string(),
            headers: value
                .get("headers")
                .and_then(Value::as_object)
                .map(|h| {
                    h.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
        }),
        "file" => Some(Channel::File {
            path: user_path(str_of("path")?, base),
        }),
        "command" => Some(Channel::Command {
            argv: argv_of(value.get("argv")?)?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_minute_accepts_hh_mm_only() {
        assert_eq!(clock_minute("00:00"), Some(0));
        assert_eq!(clock_minute("08:05"), Some(485));
        assert_eq!(clock_minute("23:59"), Some(1439));
        for bad in [
            "8:05", "24:00", "23:60", "8:5", "123:00", "", ":", "ab:cd", "08:00:00", "-1:00",
            "+8:00",
        ] {
            assert_eq!(clock_minute(bad), None, "{bad}");
        }
    }
}
