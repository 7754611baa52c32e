//! `tick` (SPEC §5): one monitoring pass. It orchestrates — lock, read,
//! run commands through a [`Runner`], ask `rules` what they mean, render,
//! deliver, save — and decides nothing itself.

use std::time::Instant;

use anyhow::Result;

use crate::cli::{Global, TickArgs};
use crate::clock::Clock;
use crate::config::{self, Config, Job, Kind};
use crate::deliver::{self, Context};
use crate::exit::Code;
use crate::paths::Files;
use crate::report;
use crate::rules::{self, Autorun, AutorunNote, QueueVerdict, Section, TickEnd};
use crate::runner::{self, DryRun, Ran, Real, Runner, Which};
use crate::signals;
use crate::state::{self, MonitorRecord, State};

/// What one pass works with: where the files are, how it was asked to run,
/// the clock reading it decides by, and the runner of job commands.
struct Tick<'a> {
    files: Files,
    global: &'a Global,
    args: &'a TickArgs,
    clock: Clock,
    started: Instant,
    runner: &'a dyn Runner,
    /// A dry run: nothing is delivered and nothing is written.
    dry: bool,
}

pub fn run(global: &Global, args: &TickArgs) -> Result<Code> {
    signals::install();
    let started = Instant::now();
    let files = Files::resolve(global.config_file.as_deref(), global.state_file.as_deref());
    let dry = DryRun::default();
    let runner: &dyn Runner = if args.dry_run { &dry } else { &Real };
    // A dry run writes nothing, not even the lock file or its folder.
    let _lock = if args.dry_run {
        None
    } else {
        Some(state::lock(&files.state, global.lock_timeout)?)
    };
    let st = state::load(&files.state, !args.dry_run)?;
    let tick = Tick {
        files,
        global,
        args,
        clock: Clock::read(),
        started,
        runner,
        dry: args.dry_run,
    };
    let code = tick.pass(st);
    if global.verbose > 0 {
        for (id, which) in dry.recorded() {
            eprintln!("dry run: would run {id}'s {} command", which.name());
        }
    }
    code
}

impl Tick<'_> {
    /// Reports go out through the channels, or to stdout.
    fn delivers(&self) -> bool {
        !self.args.print_only && !self.dry
    }

    fn pass(&self, mut st: State) -> Result<Code> {
        let mut sections = Vec::new();
        if let Some(detail) = st.corrupt_moved_to.take() {
            sections.push(Section::StateCorrupt { detail });
        }

        let known = st.config_fingerprint.take();
        let config = match config::load_remembered(
            &self.files.config,
            &self.files.home,
            false,
            known.as_deref(),
        ) {
            Ok((c, print)) => {
                st.config_fingerprint = Some(print);
                c
            }
            Err(e) => return self.config_invalid(st, sections, &e),
        };
        let now = self.clock.now;
        let lang = self.args.lang.unwrap_or(config.defaults.language);
        let ctx = Context::from_env(
            config.defaults.notify.clone(),
            self.args.target.clone(),
            self.files.openclaw_config.clone(),
        );
        let mut notices = Vec::new();
        if self.delivers() && !st.outbox.is_empty() {
            notices.extend(deliver::flush_outbox(&mut st, &ctx, now).notices);
        }

        self.run_queue(&config, &mut st, &mut sections);
        if signals::received().is_none() {
            self.run_checks(&config, &mut st, &mut sections);
        }
        if signals::received().is_none() {
            self.watch_long_jobs(&config, &mut st, &mut sections);
        }

        if !sections.is_empty() {
            let msg = report::message(lang, &self.clock, &sections, now);
            if self.delivers() {
                notices.extend(deliver::deliver(&mut st, &ctx, &msg, now).notices);
            } else {
                println!("{}", msg.text());
            }
        }
        for n in &notices {
            eprintln!("{n}");
        }
        if self.global.verbose > 0 {
            eprintln!(
                "tick: {} job(s), {} section(s), outbox {}, {} ms",
                config.jobs.len(),
                sections.len(),
                st.outbox.len(),
                self.started.elapsed().as_millis()
            );
            // Why each job was or was not reported (`explain JOB` says more).
            for job in &config.jobs {
                let decision = st.jobs.get(&job.id).and_then(|j| j.last_decision.as_ref());
                if let Some(d) = decision.filter(|d| d.at == now) {
                    eprintln!(
                        "tick: {}: {}",
                        job.id,
                        crate::commands::decision_text(d, now)
                    );
                }
            }
        }
        self.finish(st, false)
    }

    /// Save (unless dry run) and pick the exit code (`rules::tick_exit`).
    fn finish(&self, mut st: State, config_invalid: bool) -> Result<Code> {
        let end = TickEnd {
            signal: signals::received(),
            config_invalid,
            save_failed: false,
            undelivered: self.delivers() && !config_invalid && !st.outbox.is_empty(),
        };
        let code = rules::tick_exit(end);
        if !self.dry {
            let outcome = match code {
                Code::Ok => "ok",
                Code::Undelivered => "undelivered",
                Code::Usage => "config invalid",
                _ => "interrupted",
            };
            let extra = st.monitor.take().map(|m| m.extra).unwrap_or_default();
            st.monitor = Some(MonitorRecord {
                last_tick_at: self.clock.now,
                last_tick_duration_ms: self.started.elapsed().as_millis() as u64,
                last_tick_outcome: outcome.to_string(),
                extra,
            });
            state::save(&self.files.state, &mut st)?;
        }
        Ok(code)
    }

    /// SPEC §5 step 2: alert at most once an hour, save, exit 2.
    fn config_invalid(
        &self,
        mut st: State,
        mut sections: Vec<Section>,
        err: &config::ConfigError,
    ) -> Result<Code> {
        let error = err.to_string();
        let path = self.files.config.display().to_string();
        if !self.global.quiet || self.args.print_only {
            eprintln!("ERROR: config invalid: {path}: {error}");
        }
        if rules::config_alert_due(st.last_config_error_at, self.clock.now) {
            sections.push(Section::ConfigInvalid { path, error });
            st.last_config_error_at = Some(self.clock.now);
        }
        if !sections.is_empty() {
            let lang = self.args.lang.unwrap_or_default();
            let msg = report::message(lang, &self.clock, &sections, self.clock.now);
            if self.delivers() {
                let ctx = Context::from_env(
                    None,
                    self.args.target.clone(),
                    self.files.openclaw_config.clone(),
                );
                for n in deliver::deliver(&mut st, &ctx, &msg, self.clock.now).notices {
                    eprintln!("{n}");
                }
            } else {
                println!("{}", msg.text());
            }
        }
        self.finish(st, true)
    }

    /// SPEC §5.4.
    fn run_queue(&self, config: &Config, st: &mut State, sections: &mut Vec<Section>) {
        let now = self.clock.now;
        for i in 0..st.queue.len() {
            if signals::received().is_some() {
                break;
            }
            if !rules::queue_due(&st.queue[i], now) {
                continue;
            }
            if st.queue[i].verifies.is_none() {
                // An item queued by an earlier version: recognise it by its reason.
                st.queue[i].verifies =
                    rules::verification_of(&st.queue[i], &config.jobs).map(|w| w.id.clone());
            }
            let verdict = rules::queue_verdict(&st.queue[i], &config.jobs);
            let QueueVerdict::Run(job) = verdict else {
                sections.push(rules::queue_refuse(&mut st.queue[i], &verdict, now));
                continue;
            };
            let limit = runner::limit(
                st.queue[i]
                    .timeout_seconds
                    .unwrap_or(runner::QUEUED_RUN_TIMEOUT_SECONDS),
                runner::QUEUED_RUN_TIMEOUT_SECONDS,
            );
            match self.runner.run(job, Which::Run, limit) {
                Ran::Recorded => sections.push(would_run(job)),
                Ran::Done(out) => {
                    rules::record_run(st.job_mut(&job.id), &out, now);
                    if let Some(s) = rules::queue_finish(&mut st.queue[i], job, &out, now) {
                        sections.push(s);
                    }
                }
            }
        }
        self.report_verifications(config, st, sections);
        st.trim_queue();
    }

    /// SPEC §5.4: every finished verification is reported once — now, or
    /// (a pass) when quiet hours end, or when a silence ends.
    fn report_verifications(&self, config: &Config, st: &mut State, sections: &mut Vec<Section>) {
        let now = self.clock.now;
        for i in 0..st.queue.len() {
            let item = &st.queue[i];
            let Some(write) = item.verifies.as_deref().and_then(|id| config.job(id)) else {
                continue;
            };
            let verifier = config.job(&item.job_id);
            let quiet =
                verifier.is_some_and(|v| v.policy.quiet_hours.contains(self.clock.minute_of_day));
            let silenced = [write.id.as_str(), item.job_id.as_str()]
                .iter()
                .any(|id| rules::silenced(&st.silences, id, now));
            if let Some(s) =
                rules::verification_report(&mut st.queue[i], write, quiet, silenced, now)
            {
                sections.push(s);
            }
        }
    }

    /// SPEC §5.5.
    fn run_checks(&self, config: &Config, st: &mut State, sections: &mut Vec<Section>) {
        let now = self.clock.now;
        for job in &config.jobs {
            let prev = st.jobs.get(&job.id).cloned().unwrap_or_default();
            if !rules::check_due(job, &prev, now) {
                continue;
            }
            // SPEC §5.5: 60 s (a per-job `timeoutSeconds` is not read yet).
            let limit = runner::limit(runner::CHECK_TIMEOUT_SECONDS, runner::CHECK_TIMEOUT_SECONDS);
            let out = match self.runner.run(job, Which::Run, limit) {
                Ran::Recorded => {
                    sections.push(would_run(job));
                    continue;
                }
                Ran::Done(out) => out,
            };
            if signals::received().is_some() {
                return;
            }
            let silence = rules::silence_until(&st.silences, &job.id, now);
            let (new, section) = rules::decide_check(job, &prev, &out, now, silence);
            st.jobs.insert(job.id.clone(), new);
            sections.extend(section);
        }
    }

    /// SPEC §5 steps 4–5: status commands in parallel, decisions in config order.
    fn watch_long_jobs(&self, config: &Config, st: &mut State, sections: &mut Vec<Section>) {
        let now = self.clock.now;
        let jobs: Vec<&Job> = config
            .jobs
            .iter()
            .filter(|j| j.enabled && j.kind == Kind::LongRunningRead)
            .collect();
        let observations = runner::observe_all(self.runner, &jobs, self.args.parallel as usize);
        if signals::received().is_some() {
            // Interrupted statuses say nothing about the jobs: decide nothing.
            return;
        }
        for (job, obs) in jobs.into_iter().zip(observations) {
            let prev = st.jobs.get(&job.id).cloned().unwrap_or_default();
            let mut next_prev = prev.clone();
            let note = match rules::plan_autorun(job, &obs, &prev, now) {
                Some(Autorun::Start) => {
                    match self.runner.run(job, Which::Start, runner::START_TIMEOUT) {
                        Ran::Recorded => Some(AutorunNote::WouldStart),
                        Ran::Done(out) => {
                            let mut record = rules::run_record(&out);
                            record.at = Some(now);
                            record.by = Some("autoResume".into());
                            next_prev.last_start = Some(record);
                            Some(AutorunNote::from_start(&out))
                        }
                    }
                }
                Some(Autorun::Suppressed) => Some(AutorunNote::Suppressed),
                Some(Autorun::Blocked) => Some(AutorunNote::Blocked),
                None => None,
            };
            let silence = rules::silence_until(&st.silences, &job.id, now);
            let outcome = rules::decide_job(job, &obs, &next_prev, &self.clock, note, silence);
            st.jobs.insert(job.id.clone(), outcome.state);
            if let Some(s) = outcome.section {
                sections.push(Section::Job(s));
            }
        }
    }
}

/// A dry run's note for a queued or scheduled job.
fn would_run(job: &Job) -> Section {
    Section::WouldRun {
        name: job.name.clone(),
        id: job.id.clone(),
    }
}
