//! Report text (SPEC §5.6): the header and each section, in English or in the
//! Python version's Chinese wording, word for word. `ALERT` and
//! `ACTION REQUIRED` stay in English in both — scripts grep for them.
//!
//! The report's output is a [`Message`] (header and section texts); `deliver`
//! takes it from here and sends it.

use crate::clock::Clock;
use crate::config::Lang;
use crate::pyjson::PyValue;
use crate::rules::{AutorunNote, CheckResult, JobSection, Section, StateLine};
use crate::status::Level;
use crate::text::cap;

/// Most characters of one progress value shown in a report: far above what
/// a person writes (the Python version shows values whole); it only keeps
/// a runaway status from filling the report.
pub const PROGRESS_VALUE_CHARS: usize = 4_000;

/// A report ready to send: the whole text, and its sections so a channel can
/// split between them (Telegram's 4096-character limit).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The header line (`🛠️ Ops report (14:05:09)`).
    pub header: String,
    /// Each section's text, in order.
    pub sections: Vec<String>,
    /// When the report was made (Unix seconds).
    pub time: f64,
}

impl Message {
    /// The report as one text: header, blank line, sections separated by blank lines.
    pub fn text(&self) -> String {
        let mut out = self.header.clone();
        for s in &self.sections {
            out.push_str("\n\n");
            out.push_str(s);
        }
        out
    }
}

/// The header with the tick's local time, or without a time (config error).
pub fn header(lang: Lang, clock: Option<&Clock>) -> String {
    match (lang, clock) {
        (Lang::En, Some(c)) => format!("🛠️ Ops report ({})", c.hms_text()),
        (Lang::En, None) => "🛠️ Ops report".to_string(),
        (Lang::Zh, Some(c)) => format!("🛠️ Ops 快报（{}）", c.hms_text()),
        (Lang::Zh, None) => "🛠️ Ops 快报".to_string(),
    }
}

/// Build the message for `sections`.
pub fn message(lang: Lang, clock: Option<&Clock>, sections: &[Section], time: f64) -> Message {
    Message {
        header: header(lang, clock),
        sections: sections.iter().map(|s| render(s, lang)).collect(),
        time,
    }
}

/// One section as text.
pub fn render(section: &Section, lang: Lang) -> String {
    let mut lines: Vec<String> = Vec::new();
    match section {
        Section::Job(j) => render_job(j, lang, &mut lines),
        Section::Check {
            name,
            id,
            result,
            output,
        } => {
            lines.push(format!("• {name} ({id}, one_shot_read)"));
            lines.push(check_line(result));
            if !output.is_empty() {
                lines.push(format!("- output: {output}"));
            }
        }
        Section::QueueMissing { job_id } => {
            lines.push("• ALERT: queued job missing".into());
            lines.push(format!("- jobId: {job_id}"));
        }
        Section::QueueBlocked { job_id, kind, risk } => {
            lines.push("• ACTION REQUIRED: queued job blocked".into());
            lines.push(format!(
                "- job: {job_id} ({}, {})",
                kind.as_str(),
                risk.as_str()
            ));
        }
        Section::QueueOutput { name, id, output } => {
            lines.push(format!("• {name} ({id})"));
            lines.push(format!("- {output}"));
        }
        Section::QueueFailed {
            name,
            id,
            exit,
            error,
        } => {
            lines.push("• ALERT: queued job failed".into());
            lines.push(format!("- job: {name} ({id})"));
            lines.push(format!("- exit: {exit}"));
            if let Some(e) = error {
                lines.push(format!("- error: {e}"));
            }
        }
        Section::WouldRun { name, id } => {
            lines.push(format!("• {name} ({id})"));
            lines.push("- would run (dry-run)".into());
        }
        Section::ConfigInvalid {
            path,
            error,
            watching_since,
        } => {
            lines.push("• ALERT: ops-jobs config invalid".into());
            lines.push(format!("- path: {path}"));
            lines.push(format!("- error: {error}"));
            if let Some(t) = watching_since {
                lines.push(format!(
                    "- still watching with the config from {}",
                    crate::clock::local_text(*t, "%Y-%m-%d %H:%M")
                ));
            }
        }
        Section::SaveFailed { error } => {
            lines.push("• ALERT: the state could not be saved — nothing was started".into());
            lines.push(format!("- error: {error}"));
        }
        Section::Clock(fix) => {
            lines.push(format!(
                "• CLOCK: {} stored time(s) lay in the future (up to {}) and were reset to now",
                fix.times,
                crate::clock::local_text(fix.latest, "%Y-%m-%d %H:%M")
            ));
            lines.push("- the clock went back: waits and schedules start over from now".into());
            if !fix.voided.is_empty() {
                lines.push(format!(
                    "- ended (given in the future): {}",
                    fix.voided.join(", ")
                ));
            }
        }
        Section::StateCorrupt { detail } => {
            lines.push("• ALERT: state file was corrupt; a fresh state was started".into());
            lines.push(format!("- old file: {detail}"));
        }
    }
    lines.join("\n")
}

fn check_line(result: &CheckResult) -> String {
    match result {
        CheckResult::Attention => "- ACTION REQUIRED: the check asks for attention".into(),
        CheckResult::Exit(1) => "- ALERT: warning (exit=1)".into(),
        CheckResult::Exit(2) => "- ALERT: critical (exit=2)".into(),
        CheckResult::Exit(3) => "- ALERT: unknown (exit=3)".into(),
        CheckResult::Exit(c) => format!("- ALERT: failed (exit={c})"),
        CheckResult::TimedOut(s) => format!("- ALERT: timed out after {s}s"),
        CheckResult::FailedToStart(why) => format!("- ALERT: failed to start: {why}"),
        CheckResult::Signaled(s) => format!("- ALERT: killed by signal {s}"),
        CheckResult::Recovered => "- recovered (exit=0)".into(),
    }
}

fn render_job(j: &JobSection, lang: Lang, lines: &mut Vec<String>) {
    let zh = lang == Lang::Zh;
    lines.push(format!("• {} ({}, {})", j.name, j.id, j.kind.as_str()));
    let mut state = match (&j.state, zh) {
        (StateLine::Completed, _) => "completed ✅".to_string(),
        (StateLine::Running { pid: Some(p) }, _) => format!("running (pid={p})"),
        (StateLine::Running { pid: None }, _) => "running".to_string(),
        (
            StateLine::Paused {
                stop_reason: Some(r),
            },
            false,
        ) => format!("paused (stopReason={r})"),
        (
            StateLine::Paused {
                stop_reason: Some(r),
            },
            true,
        ) => format!("paused stopReason={r}"),
        (StateLine::Paused { stop_reason: None }, _) => "paused".to_string(),
        (StateLine::Unknown, _) => "unknown".to_string(),
    };
    // The level suffix is this port's; the Python wording has none.
    match j.level {
        Some(Level::Warn) if !zh => state.push_str(" [warn]"),
        Some(Level::Alert) if !zh => state.push_str(" [alert]"),
        _ => {}
    }
    let (state_label, message_label, progress_label) = if zh {
        ("状态", "信息", "进度")
    } else {
        ("state", "message", "progress")
    };
    lines.push(format!("- {state_label}: {state}"));
    if let Some(m) = &j.message {
        lines.push(format!("- {message_label}: {m}"));
    }
    if !j.progress.is_empty() {
        let parts: Vec<String> = j
            .progress
            .iter()
            .map(|(k, v)| format!("{k}={}", scalar(v, zh)))
            .collect();
        lines.push(format!("- {progress_label}: {}", parts.join(" | ")));
    }
    if j.action_required {
        lines.push(if zh {
            "- ACTION REQUIRED: 需要你确认下一步（或启用 autoResume）".into()
        } else {
            "- ACTION REQUIRED: confirm the next step (or enable autoResume)".into()
        });
    }
    if let Some(note) = j.autorun {
        lines.push(format!("- AUTORUN: {}", autorun_text(note)));
    }
}

fn autorun_text(note: AutorunNote) -> String {
    match note {
        AutorunNote::Started => "started".into(),
        AutorunNote::StartFailed(code) => format!("start failed (exit={code})"),
        AutorunNote::StartTimedOut => "start timed out".into(),
        AutorunNote::WouldStart => "would start (dry-run)".into(),
        AutorunNote::Suppressed => "suppressed (backoff)".into(),
        AutorunNote::Blocked => "blocked (risk != read_only)".into(),
    }
}

/// A progress value: strings as they are; otherwise JSON spelling
/// (`true`, `null`), or Python's `str()` (`True`, `None`, `nan`) in the
/// Chinese form. Bounded, so a runaway value cannot fill the report.
fn scalar(v: &PyValue, python: bool) -> String {
    let text = if python { v.python_str() } else { v.json_str() };
    cap(&text, PROGRESS_VALUE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Kind;

    fn job(state: StateLine) -> JobSection {
        JobSection {
            name: "Nightly crawl".into(),
            id: "job1".into(),
            kind: Kind::LongRunningRead,
            state,
            level: None,
            message: None,
            progress: vec![
                ("done".into(), PyValue::Int("7".into())),
                ("total".into(), PyValue::Int("100".into())),
            ],
            action_required: false,
            autorun: None,
        }
    }

    #[test]
    fn chinese_matches_python_stalled_fixture() {
        let mut j = job(StateLine::Running { pid: Some(4242) });
        j.message = Some("stalled >= 1s".into());
        j.action_required = true;
        let clock = Clock::from_parts(0.0, 6, 54, 11);
        let m = message(Lang::Zh, Some(&clock), &[Section::Job(j)], 0.0);
        let expected = include_str!("../tests/fixtures/python-reference/stalled/report.tick2.txt");
        assert_eq!(m.text(), expected.trim_end());
    }

    #[test]
    fn chinese_paused_has_no_parentheses() {
        let mut j = job(StateLine::Paused {
            stop_reason: Some("exited".into()),
        });
        j.progress.clear();
        j.action_required = true;
        j.autorun = Some(AutorunNote::Suppressed);
        let text = render(&Section::Job(j.clone()), Lang::Zh);
        assert!(text.contains("- 状态: paused stopReason=exited\n"));
        let en = render(&Section::Job(j), Lang::En);
        assert!(en.contains("- state: paused (stopReason=exited)\n"));
        assert!(en.ends_with("- AUTORUN: suppressed (backoff)"));
    }

    #[test]
    fn python_spelling_of_values_in_chinese_only() {
        let mut j = job(StateLine::Completed);
        j.progress = vec![
            ("a".into(), PyValue::Bool(true)),
            ("b".into(), PyValue::Null),
            ("c".into(), PyValue::Float(1.5)),
        ];
        assert!(render(&Section::Job(j.clone()), Lang::Zh).contains("a=True | b=None | c=1.5"));
        assert!(render(&Section::Job(j), Lang::En).contains("a=true | b=null | c=1.5"));
    }

    #[test]
    fn long_progress_values_are_cut() {
        let mut j = job(StateLine::Running { pid: None });
        j.progress = vec![(
            "path".into(),
            PyValue::Str("x".repeat(PROGRESS_VALUE_CHARS + 1000)),
        )];
        let text = render(&Section::Job(j), Lang::En);
        assert!(
            text.len() < PROGRESS_VALUE_CHARS + 200,
            "{} bytes",
            text.len()
        );
        assert!(text.ends_with("…"));
    }

    #[test]
    fn level_suffix_in_english_only() {
        let mut j = job(StateLine::Running { pid: None });
        j.level = Some(Level::Warn);
        assert!(render(&Section::Job(j.clone()), Lang::En).contains("- state: running [warn]"));
        assert!(render(&Section::Job(j), Lang::Zh).contains("- 状态: running\n"));
    }
}
