//! Scheduled read checks (SPEC §5.5): when one is due and what its run means.

use serde_json::{Map, Value};

use super::section::{CheckResult, Problem, Section};
use super::why::{self, Rule};
use super::{anomaly_due, record_run, safety, same_anomaly, TAIL_CHARS};
use crate::config::Job;
use crate::process::{Ending, Output};
use crate::state::{JobState, ProblemRecord};
use crate::status::python_json;

/// Whether output asks a person for attention.
pub fn asks_attention(out: &Output) -> bool {
    let has = |t: &str| t.contains("ACTION REQUIRED") || t.contains("ALERT");
    has(&out.stdout) || has(&out.stderr)
}

/// The output to show in a section: stdout, else stderr, trimmed, first 800 characters.
pub fn shown_output(out: &Output) -> String {
    let text = if out.stdout.trim().is_empty() {
        out.stderr.trim()
    } else {
        out.stdout.trim()
    };
    text.chars().take(TAIL_CHARS).collect()
}

fn check_result(out: &Output) -> Option<CheckResult> {
    match &out.ending {
        Ending::Exited(0) if asks_attention(out) => Some(CheckResult::Attention),
        Ending::Exited(0) => None,
        Ending::Exited(c) => Some(CheckResult::Exit(*c)),
        Ending::TimedOut => Some(CheckResult::TimedOut(
            out.duration.as_secs_f64().round() as u64
        )),
        Ending::FailedToStart(why) => Some(CheckResult::FailedToStart(why.clone())),
        Ending::Signaled(s) => Some(CheckResult::Signaled(*s)),
        Ending::Interrupted => None,
    }
}

/// SPEC §5.5: is this enabled `one_shot_read` due to run by its schedule?
pub fn check_due(job: &Job, prev: &JobState, now: f64) -> bool {
    let Some(every) = job.policy.every_seconds else {
        return false;
    };
    job.enabled && safety::tick_may_run(job) && prev.last_run_at.is_none_or(|at| now - at >= every)
}

/// SPEC §5.5: what a scheduled read check's run means. Reported on failure
/// or attention (a repeat only after the reminder interval, saying how long
/// it has lasted), and once on recovery. Quiet hours (`quiet`: when the
/// window ends) hold back only a WARNING (exit 1), reported by the first run
/// after the window (SPEC §11); a silence (`silence`: when it ends) holds
/// back everything.
pub fn decide_check(
    job: &Job,
    prev: &JobState,
    out: &Output,
    now: f64,
    silence: Option<f64>,
    quiet: Option<f64>,
) -> (JobState, Option<Section>) {
    let mut st = prev.clone();
    record_run(&mut st, out, now);
    let output = shown_output(out);
    let failing_since = prev.problem.as_ref().map(|p| p.since);
    let result = match check_result(out) {
        Some(r) => r,
        None => {
            let was_failing = prev.last_anomaly_key.is_some();
            if was_failing && silence.is_some() {
                // Said when the silence ends, if the check still passes then.
                st.last_decision = Some(why::decision(now, false, Rule::Silence, silence));
                return (st, None);
            }
            st.last_anomaly_key = None;
            st.last_anomaly_report_at = None;
            st.problem = None;
            if was_failing {
                st.last_report_at = Some(now);
                st.last_decision = Some(why::decision(now, true, Rule::Check, None));
                let section = Section::Check {
                    name: job.name.clone(),
                    id: job.id.clone(),
                    result: CheckResult::Recovered {
                        after: failing_since.map(|t| (now - t).max(0.0)),
                    },
                    output,
                    reminder: None,
                };
                return (st, Some(section));
            }
            st.last_decision = Some(why::decision(now, false, Rule::NothingNew, None));
            return (st, None);
        }
    };
    if failing_since.is_none() {
        st.problem = Some(ProblemRecord {
            kind: Problem::CheckFailing.as_str().to_string(),
            since: now,
            alerted: true,
            extra: Default::default(),
        });
    }
    // SPEC §11: a failure's key is how it ended plus the first line of its
    // output (compared with digits normalised, like an anomaly's).
    let mut m = Map::new();
    m.insert("check".into(), Value::String(out.describe().to_string()));
    m.insert(
        "output".into(),
        Value::String(output.lines().next().unwrap_or("").to_string()),
    );
    let key = python_json(&Value::Object(m));
    if silence.is_some() {
        st.last_decision = Some(why::decision(now, false, Rule::Silence, silence));
        return (st, None);
    }
    if result == CheckResult::Exit(1) && quiet.is_some() {
        st.last_decision = Some(why::decision(now, false, Rule::QuietHours, quiet));
        return (st, None);
    }
    if !anomaly_due(job, prev, &key, now) {
        let until = why::reminder_due_at(job, prev);
        st.last_decision = Some(why::decision(now, false, Rule::ReminderNotDue, until));
        return (st, None);
    }
    let repeat = same_anomaly(prev, &key);
    st.last_report_at = Some(now);
    st.last_anomaly_key = Some(key);
    st.last_anomaly_report_at = Some(now);
    let rule = if repeat { Rule::Reminder } else { Rule::Check };
    st.last_decision = Some(why::decision(now, true, rule, None));
    let section = Section::Check {
        name: job.name.clone(),
        id: job.id.clone(),
        result,
        output,
        reminder: repeat.then(|| now - failing_since.unwrap_or(now)),
    };
    (st, Some(section))
}
