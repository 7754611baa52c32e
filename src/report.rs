//! Report text (SPEC §5.6): the header and each section, in English (this
//! port's own form, for a person reading a phone at 3 a.m.) or in the Python
//! version's Chinese wording, word for word where the Python version has one.
//! `ALERT`, `ACTION REQUIRED`, `AUTORUN` and `RESOLVED` stay in English in
//! both — scripts grep for them — and lines the Python version never wrote
//! (RESOLVED, a held job, an unknown status, a reminder's duration, a
//! verification) are the English ones in both.
//!
//! The report's output is a [`Message`] (header and section texts); `deliver`
//! takes it from here and sends it.

use chrono::TimeZone;

use crate::clock::Clock;
use crate::config::Lang;
use crate::pyjson::PyValue;
use crate::rules::{
    asks_attention, seconds_text, Action, AutorunNote, CheckResult, JobSection, Problem, RunOutput,
    Section, StateLine,
};
use crate::status::Level;
use crate::text::cap;

/// Most characters of one progress value shown in a report: far above what
/// a person writes (the Python version shows values whole); it only keeps
/// a runaway status from filling the report.
pub const PROGRESS_VALUE_CHARS: usize = 4_000;
/// Most characters of a run's output shown in a section.
pub const OUTPUT_CHARS: usize = 800;

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

/// The header: `🚨 Ops alert` when a section asks for attention, else
/// `🛠️ Ops report`, with the tick's local time; in Chinese always the
/// Python version's `🛠️ Ops 快报`, without a time when `timeless`.
pub fn header(lang: Lang, clock: &Clock, alert: bool, timeless: bool) -> String {
    match lang {
        Lang::Zh if timeless => "🛠️ Ops 快报".to_string(),
        Lang::Zh => format!("🛠️ Ops 快报（{}）", clock.hms_text()),
        Lang::En if alert => format!("🚨 Ops alert ({})", clock.hms_text()),
        Lang::En => format!("🛠️ Ops report ({})", clock.hms_text()),
    }
}

/// Build the message for `sections`, given in the order of SPEC §5 step 4.
/// In English the sections that ask for attention come first.
pub fn message(lang: Lang, clock: &Clock, sections: &[Section], time: f64) -> Message {
    let alert = sections.iter().any(Section::is_alert);
    // The Python version's config-error alert alone has no time.
    let timeless = matches!(sections, [Section::ConfigInvalid { .. }]);
    let mut ordered: Vec<&Section> = sections.iter().collect();
    if lang == Lang::En {
        // Stable: each group keeps the tick's order.
        ordered.sort_by_key(|s| !s.is_alert());
    }
    Message {
        header: header(lang, clock, alert, timeless),
        sections: ordered
            .into_iter()
            .map(|s| render(s, lang, clock.now))
            .collect(),
        time,
    }
}

/// The note after the header of a message delivered later than it was
/// written (from the outbox), in either language.
pub fn delayed_note(written: f64) -> String {
    format!(
        "(written {}, delayed)",
        local(written).map_or_else(
            || written.to_string(),
            |d| d.format("%Y-%m-%d %H:%M").to_string()
        )
    )
}

/// A duration in its largest two units: `2h 10m`, `3d 4h`, `45s`.
pub fn duration_text(seconds: f64) -> String {
    let total = if seconds.is_finite() && seconds > 0.0 {
        seconds.min(1e15) as u64
    } else {
        0
    };
    let units = [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")];
    let Some(first) = units.iter().position(|(size, _)| total >= *size) else {
        return "0s".to_string();
    };
    let (size, name) = units[first];
    let mut text = format!("{}{name}", total / size);
    if let Some((next, next_name)) = units.get(first + 1) {
        let n = (total % size) / next;
        if n > 0 {
            text.push_str(&format!(" {n}{next_name}"));
        }
    }
    text
}

fn local(t: f64) -> Option<chrono::DateTime<chrono::Local>> {
    if !t.is_finite() {
        return None;
    }
    chrono::Local.timestamp_opt(t.floor() as i64, 0).single()
}

/// A local time as `HH:MM` when it is within a day of `now`, else with its
/// date (`2026-11-20 11:55`).
pub fn time_of_day(t: f64, now: f64) -> String {
    match local(t) {
        Some(d) if (now - t).abs() < 86_400.0 => d.format("%H:%M").to_string(),
        Some(d) => d.format("%Y-%m-%d %H:%M").to_string(),
        None => t.to_string(),
    }
}

/// One section as text; `now` is the tick's time (for `since HH:MM`).
pub fn render(section: &Section, lang: Lang, now: f64) -> String {
    let mut lines: Vec<String> = Vec::new();
    match section {
        Section::Job(j) => render_job(j, lang, now, &mut lines),
        Section::Check {
            name,
            id,
            result,
            output,
            reminder,
        } => {
            lines.push(format!("• {name} ({id}, one_shot_read)"));
            let mut line = check_line(result);
            if let Some(d) = reminder {
                line.push_str(&still(*d));
            }
            lines.push(line);
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
            match lang {
                Lang::Zh => lines.push(format!("- {}", python_output(output))),
                Lang::En => output_lines(output, &mut lines),
            }
        }
        Section::QueueFailed {
            name,
            id,
            python_error: Some(e),
            ..
        } if lang == Lang::Zh => {
            // The Python version's section for a run that raised.
            lines.push("• ALERT: queued job error".into());
            lines.push(format!("- job: {name} ({id})"));
            lines.push(format!("- error: {e}"));
        }
        Section::QueueFailed {
            name,
            id,
            exit,
            error,
            output,
            ..
        } => {
            lines.push("• ALERT: queued job failed".into());
            lines.push(format!("- job: {name} ({id})"));
            lines.push(format!("- exit: {exit}"));
            if lang == Lang::En {
                if let Some(e) = error {
                    lines.push(format!("- error: {e}"));
                }
                output_lines(output, &mut lines);
            }
        }
        Section::Verification {
            write_name,
            write_id,
            id,
            failure,
            output,
        } => {
            let verdict = match failure {
                None => "passed".to_string(),
                Some(f) => format!("failed ({f})"),
            };
            lines.push(format!(
                "• Verification of {write_name} ({write_id}): {verdict}"
            ));
            let before = lines.len();
            output_lines(output, &mut lines);
            let lifted = lines[before..].iter().any(|l| !l.starts_with("- output: "));
            if failure.is_some() && !lifted {
                lines.insert(
                    before,
                    format!(
                        "- ALERT: the verification failed — check what the write did (ops-monitor logs {id})"
                    ),
                );
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
        Section::DeliveryRefused { label, error } => {
            lines.push(format!("• ALERT: delivery refused — {label}"));
            lines.push(format!("- error: {error}"));
            lines.push(
                "- kept in the outbox; tried again once the config, the OpenClaw config or the \
                 token changes (ops-monitor outbox)"
                    .into(),
            );
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

/// What the Python version shows of a queued run: its stdout tail, a
/// newline, its stderr tail (each the last 800 characters), trimmed, that
/// whole cut to its first 800 characters.
fn python_output(o: &RunOutput) -> String {
    format!("{}\n{}", o.stdout, o.stderr)
        .trim()
        .chars()
        .take(OUTPUT_CHARS)
        .collect()
}

/// A run's output in English: the lines asking for attention first
/// (wherever they were printed), then the tail — unless it holds nothing
/// but those lines.
fn output_lines(o: &RunOutput, lines: &mut Vec<String>) {
    let text = [o.stdout.trim(), o.stderr.trim()]
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    for l in &o.attention {
        lines.push(format!("- {l}"));
    }
    let others = text
        .lines()
        .any(|l| !l.trim().is_empty() && !asks_attention(l.trim()));
    if others {
        lines.push(format!("- output: {}", last_chars(&text, OUTPUT_CHARS)));
    }
}

/// The last `max` characters of `text`, with `…` in front when cut.
fn last_chars(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let tail: String = text.chars().skip(n - max).collect();
    format!("…{tail}")
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
        CheckResult::Recovered { after: Some(d) } => format!(
            "- RESOLVED: check failing, after {} (exit=0 now)",
            duration_text(*d)
        ),
        CheckResult::Recovered { after: None } => "- RESOLVED: check failing (exit=0 now)".into(),
    }
}

/// A reminder's suffix (SPEC §5.6).
fn still(d: f64) -> String {
    format!(", still, for {}", duration_text(d))
}

fn problem_text(p: Problem) -> &'static str {
    match p {
        Problem::Stalled => "stalled",
        Problem::Paused => "paused",
        Problem::Unknown => "status unknown",
        Problem::LevelAlert => "level alert",
        Problem::CheckFailing => "check failing",
    }
}

fn render_job(j: &JobSection, lang: Lang, now: f64, lines: &mut Vec<String>) {
    let zh = lang == Lang::Zh;
    lines.push(format!("• {} ({}, {})", j.name, j.id, j.kind.as_str()));
    let mut state = match &j.state {
        StateLine::Completed => "completed ✅".to_string(),
        StateLine::Running { pid } => {
            let running = match pid {
                Some(p) => format!("running (pid={p})"),
                None => "running".to_string(),
            };
            match (&j.stall, zh) {
                (Some(stall), false) => format!(
                    "stalled — {running}, no progress for {} (since {})",
                    duration_text(stall.for_seconds),
                    time_of_day(stall.since, now)
                ),
                _ => running,
            }
        }
        StateLine::Paused {
            stop_reason: Some(r),
        } if zh => format!("paused stopReason={r}"),
        StateLine::Paused {
            stop_reason: Some(r),
        } => format!("paused (stopReason={r})"),
        StateLine::Paused { stop_reason: None } => "paused".to_string(),
        StateLine::Unknown {
            last_known: Some(k),
        } => format!("unknown (last known: {k})"),
        StateLine::Unknown { last_known: None } => "unknown".to_string(),
        StateLine::Held { since } => {
            format!("stopped by hand (since {})", time_of_day(*since, now))
        }
    };
    // The level suffix is this port's own: English only.
    if !zh {
        match j.level {
            Some(Level::Warn) => state.push_str(" [warn]"),
            Some(Level::Alert) => state.push_str(" [alert]"),
            _ => {}
        }
    }
    let (state_label, message_label, progress_label) = if zh {
        ("状态", "信息", "进度")
    } else {
        ("state", "message", "progress")
    };
    lines.push(format!("- {state_label}: {state}"));
    let unknown = matches!(j.state, StateLine::Unknown { .. });
    let message = if zh {
        // The Python version's message line: the status message, or the stall.
        match (&j.message, &j.stall) {
            _ if unknown => None,
            (Some(m), _) => Some(m.clone()),
            (None, Some(stall)) => Some(format!("stalled >= {}", seconds_text(stall.threshold))),
            (None, None) => None,
        }
    } else {
        // The ALERT line carries the message of an alert or unknown status.
        let carried = j
            .actions
            .iter()
            .any(|a| matches!(a, Action::Alert { .. } | Action::Unknown { .. }));
        j.message.clone().filter(|_| !carried)
    };
    if let Some(m) = message {
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
    let reminder = j.reminder.map(still).unwrap_or_default();
    let mut action_lines: Vec<String> = Vec::new();
    if zh {
        if j.anomaly {
            action_lines.push("- ACTION REQUIRED: 需要你确认下一步（或启用 autoResume）".into());
        }
        // Lines the Python version never wrote are the English ones.
        for a in &j.actions {
            if let Action::Unknown { .. } = a {
                action_lines.push(action_text(a, &j.id, now));
            }
        }
    } else {
        action_lines.extend(j.actions.iter().map(|a| action_text(a, &j.id, now)));
    }
    if let Some(first) = action_lines.first_mut() {
        first.push_str(&reminder);
    }
    lines.extend(action_lines);
    if let Some(note) = j.autorun {
        lines.push(format!("- AUTORUN: {}", autorun_text(note, zh)));
    }
    if let Some(r) = j.resolved {
        let after = r
            .after
            .map(|d| format!(", after {}", duration_text(d)))
            .unwrap_or_default();
        lines.push(format!("- RESOLVED: {}{after}", problem_text(r.problem)));
    }
}

fn action_text(a: &Action, id: &str, now: f64) -> String {
    match a {
        Action::Stalled { for_seconds } => format!(
            "- ACTION REQUIRED: no progress for {} — look at the job (ops-monitor logs {id})",
            duration_text(*for_seconds)
        ),
        Action::StartIt => format!(
            "- ACTION REQUIRED: paused — start it (ops-monitor start {id}) or enable autoResume"
        ),
        Action::NotStartedThisTick => format!(
            "- ACTION REQUIRED: paused — not started automatically by this tick (see the alert above); start it by hand (ops-monitor start {id})"
        ),
        Action::StartFailed { reason } => format!(
            "- ALERT: automatic start failed — {reason} (more: ops-monitor logs {id})"
        ),
        Action::Backoff { next_at } => format!(
            "- ACTION REQUIRED: paused — next automatic start after {}",
            time_of_day(*next_at, now)
        ),
        Action::StartByHand => format!(
            "- ACTION REQUIRED: paused — start it by hand (ops-monitor start {id} --allow-risk): automatic starts are for read_only jobs"
        ),
        Action::Unknown { reason } => format!("- ALERT: status unknown — {reason}"),
        Action::Alert { message: Some(m) } => format!("- ALERT: {m}"),
        Action::Alert { message: None } => "- ALERT: the job reports level alert".to_string(),
    }
}

/// The AUTORUN note; `python`: the Python version's words where they differ.
fn autorun_text(note: AutorunNote, python: bool) -> String {
    match note {
        AutorunNote::Started => "started".into(),
        AutorunNote::StartFailed(code) => format!("start failed (exit={code})"),
        AutorunNote::StartTimedOut if python => "start timeout".into(),
        AutorunNote::StartTimedOut => "start timed out".into(),
        AutorunNote::StartError if python => "start error".into(),
        AutorunNote::StartError => "start failed (could not start)".into(),
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
    use crate::rules::{Resolved, Stall};

    fn job(state: StateLine) -> JobSection {
        JobSection {
            name: "Nightly crawl".into(),
            id: "job1".into(),
            kind: Kind::LongRunningRead,
            state,
            stall: None,
            level: None,
            message: None,
            progress: vec![
                ("done".into(), PyValue::Int("7".into())),
                ("total".into(), PyValue::Int("100".into())),
            ],
            anomaly: false,
            actions: Vec::new(),
            reminder: None,
            autorun: None,
            resolved: None,
        }
    }

    fn en(j: &JobSection) -> String {
        render(&Section::Job(j.clone()), Lang::En, 0.0)
    }

    fn zh(j: &JobSection) -> String {
        render(&Section::Job(j.clone()), Lang::Zh, 0.0)
    }

    #[test]
    fn durations_in_their_largest_two_units() {
        assert_eq!(duration_text(0.0), "0s");
        assert_eq!(duration_text(45.9), "45s");
        assert_eq!(duration_text(90.0), "1m 30s");
        assert_eq!(duration_text(3600.0), "1h");
        assert_eq!(duration_text(7805.0), "2h 10m");
        assert_eq!(duration_text(3.0 * 86400.0 + 4.0 * 3600.0 + 59.0), "3d 4h");
        assert_eq!(duration_text(86400.0 + 59.0), "1d");
        assert_eq!(duration_text(-5.0), "0s");
        assert_eq!(duration_text(f64::NAN), "0s");
    }

    #[test]
    fn chinese_matches_python_stalled_fixture() {
        let mut j = job(StateLine::Running { pid: Some(4242) });
        j.stall = Some(Stall {
            since: -2.0,
            for_seconds: 2.0,
            threshold: 1.0,
        });
        j.anomaly = true;
        j.actions = vec![Action::Stalled { for_seconds: 2.0 }];
        let clock = Clock::from_parts(0.0, 6, 54, 11);
        let m = message(Lang::Zh, &clock, &[Section::Job(j)], 0.0);
        let expected = include_str!("../tests/fixtures/python-reference/stalled/report.tick2.txt");
        assert_eq!(m.text(), expected.trim_end());
    }

    #[test]
    fn chinese_paused_has_no_parentheses() {
        let mut j = job(StateLine::Paused {
            stop_reason: Some("exited".into()),
        });
        j.progress.clear();
        j.anomaly = true;
        j.autorun = Some(AutorunNote::Suppressed);
        assert!(zh(&j).contains("- 状态: paused stopReason=exited\n"));
        let en = en(&j);
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
        assert!(zh(&j).contains("a=True | b=None | c=1.5"));
        assert!(en(&j).contains("a=true | b=null | c=1.5"));
    }

    #[test]
    fn long_progress_values_are_cut() {
        let mut j = job(StateLine::Running { pid: None });
        j.progress = vec![(
            "path".into(),
            PyValue::Str("x".repeat(PROGRESS_VALUE_CHARS + 1000)),
        )];
        let text = en(&j);
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
        assert!(en(&j).contains("- state: running [warn]"));
        assert!(zh(&j).contains("- 状态: running\n"));
    }

    #[test]
    fn reminder_goes_on_the_first_action_line_and_resolved_last() {
        let mut j = job(StateLine::Paused { stop_reason: None });
        j.progress.clear();
        j.anomaly = true;
        j.actions = vec![Action::StartIt];
        j.reminder = Some(1800.0);
        assert_eq!(
            en(&j),
            "• Nightly crawl (job1, long_running_read)\n- state: paused\n- ACTION REQUIRED: paused — start it (ops-monitor start job1) or enable autoResume, still, for 30m"
        );
        assert!(zh(&j)
            .ends_with("- ACTION REQUIRED: 需要你确认下一步（或启用 autoResume）, still, for 30m"));
        let mut r = job(StateLine::Running { pid: Some(7) });
        r.progress.clear();
        r.resolved = Some(Resolved {
            problem: Problem::Stalled,
            after: Some(2100.0),
        });
        assert!(en(&r).ends_with("- state: running (pid=7)\n- RESOLVED: stalled, after 35m"));
        assert!(zh(&r).ends_with("- RESOLVED: stalled, after 35m"));
        assert!(Section::Job(r).is_alert());
    }

    #[test]
    fn alert_sections_first_under_the_alert_header() {
        let clock = Clock::from_parts(0.0, 14, 5, 9);
        let routine = Section::Job(job(StateLine::Running { pid: None }));
        let mut paused = job(StateLine::Paused { stop_reason: None });
        paused.actions = vec![Action::StartIt];
        let m = message(
            Lang::En,
            &clock,
            &[routine.clone(), Section::Job(paused)],
            0.0,
        );
        assert_eq!(m.header, "🚨 Ops alert (14:05:09)");
        assert!(m.sections[0].contains("- state: paused"));
        assert!(m.sections[1].contains("- state: running"));
        let m = message(Lang::En, &clock, std::slice::from_ref(&routine), 0.0);
        assert_eq!(m.header, "🛠️ Ops report (14:05:09)");
        let m = message(Lang::Zh, &clock, &[routine], 0.0);
        assert_eq!(m.header, "🛠️ Ops 快报（14:05:09）");
    }

    #[test]
    fn an_alert_printed_before_the_tail_is_still_shown() {
        let whole = format!("ALERT: 3 files differ\n{}", "filler line\n".repeat(300));
        let tail = crate::text::tail(&whole, 800);
        assert!(!tail.contains("ALERT"));
        let output = RunOutput::new(tail, String::new(), [&whole, ""]);
        let section = Section::QueueOutput {
            name: "v".into(),
            id: "v".into(),
            output,
        };
        let text = render(&section, Lang::En, 0.0);
        assert!(
            text.starts_with("• v (v)\n- ALERT: 3 files differ\n- output: "),
            "{text}"
        );
    }

    #[test]
    fn queue_output_lifts_alert_lines_above_the_tail() {
        let output = RunOutput::of_tails(
            "checking 3 archives\nALERT: archive is not a readable tar\ndone".into(),
            "tar: unexpected EOF".into(),
        );
        let failed = Section::QueueFailed {
            name: "Check".into(),
            id: "check".into(),
            exit: 2,
            error: None,
            output: output.clone(),
            python_error: None,
        };
        assert_eq!(
            render(&failed, Lang::En, 0.0),
            "• ALERT: queued job failed\n- job: Check (check)\n- exit: 2\n- ALERT: archive is not a readable tar\n- output: checking 3 archives\nALERT: archive is not a readable tar\ndone\ntar: unexpected EOF"
        );
        assert_eq!(
            render(&failed, Lang::Zh, 0.0),
            "• ALERT: queued job failed\n- job: Check (check)\n- exit: 2"
        );
        let only = Section::QueueOutput {
            name: "v".into(),
            id: "v".into(),
            output: RunOutput::of_tails("ALERT: 2 files differ\n".into(), String::new()),
        };
        assert_eq!(
            render(&only, Lang::En, 0.0),
            "• v (v)\n- ALERT: 2 files differ"
        );
    }
}
