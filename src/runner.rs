//! Running a job's commands (SPEC §8): the job's argv, in its `cwd`, with a
//! time limit — behind the small [`Runner`] seam, so `tick` and the commands
//! never spawn anything themselves.
//!
//! [`Real`] runs everything; [`DryRun`] runs the read-only `status` command
//! and only records the others (SPEC §5 `--dry-run`: "starts nothing and
//! runs nothing but status commands"), which replaces a `dry_run` flag
//! threaded through the tick. Tests use a scripted runner to check the
//! orchestration without `/bin/sh`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::config::Job;
use crate::process::{self, Ending, Output};
use crate::secrets;
use crate::signals;
use crate::status::{self, Observation};
use crate::text;

/// Time limit of an automatic `start` (SPEC §5.2).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// [`START_TIMEOUT`], or less when `OPS_MONITOR_START_TIMEOUT` (seconds)
/// says so — a seam for the test of a start that outlives its limit, like
/// `OPS_MONITOR_NOW`; never needed in production.
pub fn start_timeout() -> Duration {
    std::env::var("OPS_MONITOR_START_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .filter(|d| !d.is_zero() && *d < START_TIMEOUT)
        .unwrap_or(START_TIMEOUT)
}
/// Time limit of a queued run when neither the item nor the job sets one
/// (SPEC §11 "`after` entries").
pub const QUEUED_RUN_TIMEOUT_SECONDS: f64 = 300.0;
/// Time limit of a scheduled check (SPEC §5.5).
pub const CHECK_TIMEOUT_SECONDS: f64 = 60.0;

/// Which of a job's commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Which {
    Status,
    Start,
    Stop,
    Run,
}

impl Which {
    /// The key under `commands` in the config.
    pub fn name(self) -> &'static str {
        match self {
            Which::Status => "status",
            Which::Start => "start",
            Which::Stop => "stop",
            Which::Run => "run",
        }
    }
}

/// What a runner did with a command.
#[derive(Debug, Clone)]
pub enum Ran {
    /// It ran (or could not be started): how it ended and what it printed.
    Done(Output),
    /// It was only recorded, not run (a dry run).
    Recorded,
}

/// The seam: run one of a job's commands with a time limit.
pub trait Runner: Sync {
    fn run(&self, job: &Job, which: Which, limit: Duration) -> Ran;
}

/// Runs every command for real, each in its own process group (SPEC §8).
pub struct Real;

impl Runner for Real {
    fn run(&self, job: &Job, which: Which, limit: Duration) -> Ran {
        Ran::Done(run_now(job, which, limit, true))
    }
}

/// [`Real`], except that a SIGHUP does not stop the command: `run` of a
/// write job by a person waits for the job when the terminal goes away and
/// records its result (SPEC §11 "Approvals"). SIGINT and SIGTERM still stop it.
pub struct OutlivesHangup;

impl Runner for OutlivesHangup {
    fn run(&self, job: &Job, which: Which, limit: Duration) -> Ran {
        Ran::Done(run_now(job, which, limit, false))
    }
}

/// Runs status commands, records every other command instead of running it.
#[derive(Default)]
pub struct DryRun {
    recorded: Mutex<Vec<(String, Which)>>,
}

impl DryRun {
    /// The commands that would have run, in order: (job id, which).
    pub fn recorded(&self) -> Vec<(String, Which)> {
        self.recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Runner for DryRun {
    fn run(&self, job: &Job, which: Which, limit: Duration) -> Ran {
        if which == Which::Status {
            return Ran::Done(run_now(job, which, limit, true));
        }
        self.recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((job.id.clone(), which));
        Ran::Recorded
    }
}

fn run_now(job: &Job, which: Which, limit: Duration, hangup_stops: bool) -> Output {
    match job.command(which.name()) {
        Some(argv) => {
            let spec = process::Spec::new(argv, &job.cwd, limit);
            let mut out = process::run_until(&spec, &|| {
                signals::received_stopping(hangup_stops).is_some()
            });
            // What a job prints reaches reports, terminals and the state:
            // no escape sequences, no control characters (SPEC §3), and no
            // token (SPEC §7: a job that read it elsewhere and prints it).
            out.stdout = secrets::redact(&text::safe_block(&out.stdout));
            out.stderr = secrets::redact(&text::safe_block(&out.stderr));
            out
        }
        None => Output::not_run(
            Ending::FailedToStart(format!("{} has no {} command", job.id, which.name())),
            limit,
        ),
    }
}

/// Seconds as a time limit; an unusable value (negative, NaN, huge) falls
/// back to `default`.
pub fn limit(seconds: f64, default: f64) -> Duration {
    Duration::try_from_secs_f64(seconds)
        .or_else(|_| Duration::try_from_secs_f64(default))
        .unwrap_or(START_TIMEOUT)
}

/// One job's status run, interpreted (SPEC §3).
pub fn observe(runner: &dyn Runner, job: &Job) -> Observation {
    let limit = limit(job.policy.status_timeout_seconds, 30.0);
    match runner.run(job, Which::Status, limit) {
        Ran::Done(out) => status::observe(&out),
        // No runner records a status: it is read-only and always runs.
        Ran::Recorded => Observation::Unknown("status not run".into()),
    }
}

/// The status of every job, at most `parallel` at once; the results come
/// back in the order of `jobs`.
pub fn observe_all(runner: &dyn Runner, jobs: &[&Job], parallel: usize) -> Vec<Observation> {
    pool(jobs, parallel, |job| observe(runner, job))
}

/// Do `work` for every item, at most `parallel` at once, on scoped threads;
/// the results come back in the order of `items`, whatever finished first.
/// This is the tick's one pool (SPEC §5 step 4): a hanging command holds one
/// worker, never the others.
pub fn pool<T: Sync, R: Send>(
    items: &[T],
    parallel: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if items.len() <= 1 || parallel <= 1 {
        return items.iter().map(&work).collect();
    }
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = parallel.min(items.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = work(item);
                *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every item is worked on once")
        })
        .collect()
}

/// A runner for tests: answers each (job, command) with a scripted output
/// and records what was asked, without starting any process.
#[cfg(test)]
pub struct Scripted {
    answers: std::collections::HashMap<(String, Which), Output>,
    asked: Mutex<Vec<(String, Which)>>,
}

#[cfg(test)]
impl Scripted {
    pub fn new() -> Self {
        Scripted {
            answers: Default::default(),
            asked: Mutex::new(Vec::new()),
        }
    }

    /// Answer `which` of job `id` with exit `code` and this stdout.
    pub fn answer(mut self, id: &str, which: Which, code: i32, stdout: &str) -> Self {
        self.answers.insert(
            (id.to_string(), which),
            Output {
                ending: Ending::Exited(code),
                stdout: stdout.to_string(),
                stderr: String::new(),
                stdout_truncated: false,
                stderr_truncated: false,
                duration: Duration::from_millis(1),
                // Set to the limit asked for when it is given out.
                limit: Duration::ZERO,
            },
        );
        self
    }

    pub fn asked(&self) -> Vec<(String, Which)> {
        self.asked.lock().unwrap().clone()
    }
}

#[cfg(test)]
impl Runner for Scripted {
    fn run(&self, job: &Job, which: Which, limit: Duration) -> Ran {
        self.asked.lock().unwrap().push((job.id.clone(), which));
        let out = self.answers.get(&(job.id.clone(), which)).cloned();
        let out = out.unwrap_or_else(|| {
            Output::not_run(Ending::FailedToStart("not scripted".into()), limit)
        });
        Ran::Done(Output { limit, ..out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Kind, Risk};

    fn job(id: &str, status: &[&str]) -> Job {
        Job::for_tests(
            id,
            Kind::LongRunningRead,
            Risk::ReadOnly,
            &[("status", status), ("start", &["false"])],
        )
    }

    #[test]
    fn dry_run_runs_status_and_records_the_rest() {
        let j = job("a", &["echo", r#"{"running":true,"completed":false}"#]);
        let dry = DryRun::default();
        match observe(&dry, &j) {
            Observation::Known(s) => assert!(s.running),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            dry.run(&j, Which::Start, START_TIMEOUT),
            Ran::Recorded
        ));
        assert_eq!(dry.recorded(), vec![("a".to_string(), Which::Start)]);
    }

    #[test]
    fn a_missing_command_is_a_failed_start_not_a_panic() {
        let j = job("a", &["true"]);
        match Real.run(&j, Which::Stop, START_TIMEOUT) {
            Ran::Done(out) => assert_eq!(
                out.ending,
                Ending::FailedToStart("a has no stop command".into())
            ),
            Ran::Recorded => panic!("Real never records"),
        }
    }

    #[test]
    fn observe_all_keeps_config_order() {
        let a = job("a", &["x"]);
        let b = job("b", &["y"]);
        let runner = Scripted::new()
            .answer(
                "a",
                Which::Status,
                0,
                r#"{"running":true,"completed":false}"#,
            )
            .answer(
                "b",
                Which::Status,
                0,
                r#"{"running":false,"completed":true}"#,
            );
        let obs = observe_all(&runner, &[&a, &b], 2);
        let done: Vec<bool> = obs
            .iter()
            .map(|o| matches!(o, Observation::Known(s) if s.completed))
            .collect();
        assert_eq!(done, vec![false, true]);
        let mut asked = runner.asked();
        asked.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            asked,
            vec![("a".into(), Which::Status), ("b".into(), Which::Status)]
        );
    }

    #[test]
    fn unusable_limits_fall_back() {
        assert_eq!(limit(-1.0, 30.0), Duration::from_secs(30));
        assert_eq!(limit(f64::NAN, 30.0), Duration::from_secs(30));
        assert_eq!(limit(2.5, 30.0), Duration::from_millis(2500));
    }
}
