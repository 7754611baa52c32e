//! `tick` (SPEC §5): one monitoring pass. It orchestrates — lock, read,
//! run commands, ask `rules` what they mean, render, deliver, save — and
//! decides nothing itself.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::cli::{Global, TickArgs};
use crate::clock::Clock;
use crate::config::{self, Config, Job, Kind};
use crate::deliver::{self, Context};
use crate::exit::Code;
use crate::paths::Files;
use crate::process::{self, Output};
use crate::report;
use crate::rules::{self, Autorun, AutorunNote, QueueVerdict, Section};
use crate::signals;
use crate::state::{self, MonitorRecord, QueueStatus, State};
use crate::status::{self, Observation};

/// Time limit of an automatic `start` (SPEC §5.2).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time limit of a queued or scheduled run (SPEC §5.4).
pub const RUN_TIMEOUT_SECONDS: f64 = 300.0;
/// Least time between two config-error alerts.
pub const CONFIG_ERROR_EVERY: f64 = 3600.0;

pub fn run(global: &Global, args: &TickArgs) -> Result<Code> {
    signals::install();
    let started = Instant::now();
    let files = Files::resolve(global.config_file.as_deref(), global.state_file.as_deref());
    // A dry run writes nothing, not even the lock file or its folder.
    let _lock = if args.dry_run {
        None
    } else {
        Some(state::lock(&files.state, global.lock_timeout)?)
    };
    let mut st = state::load(&files.state, !args.dry_run)?;
    let clock = Clock::read();
    let deliver_now = !args.print_only && !args.dry_run;

    let mut sections = Vec::new();
    if let Some(detail) = st.corrupt_moved_to.take() {
        sections.push(Section::StateCorrupt { detail });
    }

    let known = st.config_fingerprint.take();
    let config = match config::load_remembered(&files.config, &files.home, false, known.as_deref())
    {
        Ok((c, print)) => {
            st.config_fingerprint = Some(print);
            c
        }
        Err(e) => {
            return config_invalid(&files, args, st, sections, &clock, &e, started, global);
        }
    };
    let lang = args.lang.unwrap_or(config.defaults.language);
    let ctx = Context::from_env(
        config.defaults.notify.clone(),
        args.target.clone(),
        files.openclaw_config.clone(),
    );
    let mut notices = Vec::new();
    if deliver_now && !st.outbox.is_empty() {
        notices.extend(deliver::flush_outbox(&mut st.outbox, &ctx, clock.now).notices);
    }

    run_queue(&config, &mut st, &clock, args.dry_run, &mut sections);
    if signals::received().is_none() {
        run_checks(&config, &mut st, &clock, args.dry_run, &mut sections);
    }
    if signals::received().is_none() {
        watch_long_jobs(&config, &mut st, &clock, args, &mut sections);
    }

    if !sections.is_empty() {
        let msg = report::message(lang, Some(&clock), &sections, clock.now);
        if deliver_now {
            notices.extend(deliver::deliver(&mut st.outbox, &ctx, &msg, clock.now).notices);
        } else {
            println!("{}", msg.text());
        }
    }
    for n in &notices {
        eprintln!("{n}");
    }
    if global.verbose > 0 {
        eprintln!(
            "tick: {} job(s), {} section(s), outbox {}, {} ms",
            config.jobs.len(),
            sections.len(),
            st.outbox.len(),
            started.elapsed().as_millis()
        );
    }
    finish(
        &files,
        st,
        args.dry_run,
        deliver_now,
        &clock,
        started,
        Code::Ok,
    )
}

/// Save (unless dry run) and pick the exit code: a signal wins, then an
/// undelivered report, then `base` (ok, or a config error).
fn finish(
    files: &Files,
    mut st: State,
    dry_run: bool,
    deliver_now: bool,
    clock: &Clock,
    started: Instant,
    base: Code,
) -> Result<Code> {
    let code = match signals::received() {
        Some(libc::SIGINT) => Code::Interrupted,
        Some(_) => Code::Terminated,
        None if deliver_now && !st.outbox.is_empty() => Code::Undelivered,
        None => base,
    };
    if !dry_run {
        let outcome = match code {
            Code::Ok => "ok",
            Code::Undelivered => "undelivered",
            Code::Usage => "config invalid",
            _ => "interrupted",
        };
        let extra = st.monitor.take().map(|m| m.extra).unwrap_or_default();
        st.monitor = Some(MonitorRecord {
            last_tick_at: clock.now,
            last_tick_duration_ms: started.elapsed().as_millis() as u64,
            last_tick_outcome: outcome.to_string(),
            extra,
        });
        state::save(&files.state, &mut st)?;
    }
    Ok(code)
}

/// SPEC §5 step 2: alert at most once an hour, save, exit 2.
#[allow(clippy::too_many_arguments)]
fn config_invalid(
    files: &Files,
    args: &TickArgs,
    mut st: State,
    mut sections: Vec<Section>,
    clock: &Clock,
    err: &config::ConfigError,
    started: Instant,
    global: &Global,
) -> Result<Code> {
    let error = err.to_string();
    if !global.quiet || args.print_only {
        eprintln!("ERROR: config invalid: {}: {error}", files.config.display());
    }
    let due = st
        .last_config_error_at
        .is_none_or(|t| clock.now - t >= CONFIG_ERROR_EVERY);
    if due {
        sections.push(Section::ConfigInvalid {
            path: files.config.display().to_string(),
            error,
        });
        st.last_config_error_at = Some(clock.now);
    }
    if !sections.is_empty() {
        let lang = args.lang.unwrap_or_default();
        // The time-less header: the alert is about the file, not a pass.
        let msg = report::message(lang, None, &sections, clock.now);
        if args.print_only || args.dry_run {
            println!("{}", msg.text());
        } else {
            let ctx = Context::from_env(None, args.target.clone(), files.openclaw_config.clone());
            for n in deliver::deliver(&mut st.outbox, &ctx, &msg, clock.now).notices {
                eprintln!("{n}");
            }
        }
    }
    finish(files, st, args.dry_run, false, clock, started, Code::Usage)
}

/// Whether a silence holds back this job's reports now.
pub fn silenced(st: &State, job_id: &str, now: f64) -> bool {
    [job_id, "*"]
        .iter()
        .any(|k| st.silences.get(*k).is_some_and(|s| s.until > now))
}

/// Run a command of a job with a time limit.
pub fn run_command(job: &Job, argv: &[String], timeout: Duration) -> Output {
    process::run(&process::Spec::new(argv, &job.cwd, timeout))
}

fn seconds(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::from_secs(RUN_TIMEOUT_SECONDS as u64))
}

/// SPEC §5.4.
fn run_queue(
    config: &Config,
    st: &mut State,
    clock: &Clock,
    dry_run: bool,
    sections: &mut Vec<Section>,
) {
    for i in 0..st.queue.len() {
        if signals::received().is_some() {
            break;
        }
        if !rules::queue_due(&st.queue[i], clock.now) {
            continue;
        }
        let verdict = rules::queue_verdict(&st.queue[i], &config.jobs);
        match verdict {
            QueueVerdict::Run(job) if dry_run => sections.push(Section::WouldRun {
                name: job.name.clone(),
                id: job.id.clone(),
            }),
            QueueVerdict::Run(job) => {
                let Some(argv) = job.command("run") else {
                    continue;
                };
                st.queue[i].status = QueueStatus::Running;
                let limit = st.queue[i].timeout_seconds.unwrap_or(RUN_TIMEOUT_SECONDS);
                let out = run_command(job, argv, seconds(limit));
                rules::record_run(st.job_mut(&job.id), &out, clock.now);
                if let Some(s) = rules::queue_finish(&mut st.queue[i], job, &out, clock.now) {
                    sections.push(s);
                }
            }
            _ => sections.push(rules::queue_refuse(&mut st.queue[i], &verdict, clock.now)),
        }
    }
    st.trim_queue();
}

/// SPEC §5.5.
fn run_checks(
    config: &Config,
    st: &mut State,
    clock: &Clock,
    dry_run: bool,
    sections: &mut Vec<Section>,
) {
    for job in &config.jobs {
        let prev = st.jobs.get(&job.id).cloned().unwrap_or_default();
        if !rules::check_due(job, &prev, clock.now) {
            continue;
        }
        if dry_run {
            sections.push(Section::WouldRun {
                name: job.name.clone(),
                id: job.id.clone(),
            });
            continue;
        }
        let Some(argv) = job.command("run") else {
            continue;
        };
        let out = run_command(job, argv, seconds(RUN_TIMEOUT_SECONDS));
        if signals::received().is_some() {
            return;
        }
        let quiet = silenced(st, &job.id, clock.now);
        let (new, section) = rules::decide_check(job, &prev, &out, clock.now, quiet);
        st.jobs.insert(job.id.clone(), new);
        sections.extend(section);
    }
}

/// SPEC §5 steps 6–7: status commands in parallel, decisions in config order.
fn watch_long_jobs(
    config: &Config,
    st: &mut State,
    clock: &Clock,
    args: &TickArgs,
    sections: &mut Vec<Section>,
) {
    let jobs: Vec<&Job> = config
        .jobs
        .iter()
        .filter(|j| j.enabled && j.kind == Kind::LongRunningRead)
        .collect();
    let observations = observe_all(&jobs, args.parallel as usize);
    if signals::received().is_some() {
        // Interrupted statuses say nothing about the jobs: decide nothing.
        return;
    }
    for (job, obs) in jobs.into_iter().zip(observations) {
        let prev = st.jobs.get(&job.id).cloned().unwrap_or_default();
        let mut next_prev = prev.clone();
        let note = match rules::plan_autorun(job, &obs, &prev, clock.now, args.dry_run) {
            Some(Autorun::Start) => {
                let out = match job.command("start") {
                    Some(argv) => run_command(job, argv, START_TIMEOUT),
                    None => continue,
                };
                next_prev.last_start = Some(rules::run_record(&out));
                Some(AutorunNote::from_start(&out))
            }
            Some(Autorun::WouldStart) => Some(AutorunNote::WouldStart),
            Some(Autorun::Suppressed) => Some(AutorunNote::Suppressed),
            Some(Autorun::Blocked) => Some(AutorunNote::Blocked),
            None => None,
        };
        let quiet = silenced(st, &job.id, clock.now);
        let outcome = rules::decide_job(job, &obs, &next_prev, clock, note, quiet);
        st.jobs.insert(job.id.clone(), outcome.state);
        if let Some(s) = outcome.section {
            sections.push(Section::Job(s));
        }
    }
}

/// Run the status command of every job, at most `parallel` at once; the
/// results come back in the order of `jobs`.
pub fn observe_all(jobs: &[&Job], parallel: usize) -> Vec<Observation> {
    let results: Vec<Mutex<Option<Observation>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = parallel.clamp(1, jobs.len().max(1));
    if jobs.is_empty() {
        return Vec::new();
    }
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let obs = observe(job);
                *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(obs);
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or_else(|| Observation::Unknown("status not run".into()))
        })
        .collect()
}

/// One job's status run, interpreted.
pub fn observe(job: &Job) -> Observation {
    let Some(argv) = job.command("status") else {
        return Observation::Unknown("no status command".into());
    };
    let limit = seconds(job.policy.status_timeout_seconds);
    status::observe(&run_command(job, argv, limit), limit)
}
