//! `tick` (SPEC §5): one monitoring pass. It orchestrates — lock, read,
//! run commands through a [`Runner`], ask `rules` what they mean, render,
//! deliver, save — and decides nothing itself.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::cli::{Global, TickArgs};
use crate::clock::Clock;
use crate::config::{self, Config, Job, Kind, LastGood};
use crate::deliver::{self, Context};
use crate::exit::Code;
use crate::fleet::{self, Fleet, TickFacts};
use crate::out::{errln, outln};
use crate::paths::Files;
use crate::report::{self, Message};
use crate::rules::{self, Autorun, AutorunNote, QueueVerdict, Section, TickEnd};
use crate::runner::{self, DryRun, Ran, Real, Runner, Which};
use crate::signals;
use crate::state::{self, MonitorRecord, State};
use crate::status::Observation;

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
    // Cron and launchd append stderr to a log file: each line says when.
    crate::out::stamp_stderr_when_logged();
    signals::install();
    let started = Instant::now();
    let mut files = Files::resolve(global.config_file.as_deref(), global.state_file.as_deref());
    files.state = state::checked_path(&files.state)?;
    let dry = DryRun::default();
    let runner: &dyn Runner = if args.dry_run { &dry } else { &Real };
    // A dry run writes nothing, not even the lock file or its folder.
    let _lock = if args.dry_run {
        None
    } else {
        // Through the shared step: a refused state file gets no lock file.
        Some(crate::commands::lock_state(
            &files.state,
            Some(global.lock_timeout),
        )?)
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
            errln!("dry run: would run {id}'s {} command", which.name());
        }
    }
    code
}

impl Tick<'_> {
    /// SPEC §4: fields of the state read leniently are named in a warning —
    /// once (again when they change, or with -v): cron mails whatever a
    /// tick prints.
    fn warn_repairs(&self, st: &mut State) {
        if st.repairs.is_empty() {
            st.repairs_warned = None;
            return;
        }
        // Each warning is remembered by a short fingerprint.
        let seen: Vec<&str> = st
            .repairs_warned
            .as_deref()
            .map(|s| s.split(',').collect())
            .unwrap_or_default();
        let mut now_seen = Vec::new();
        for w in st.repairs.warnings() {
            let print = config::fingerprint(&w)[..8].to_string();
            if !seen.contains(&print.as_str()) || self.global.verbose > 0 {
                errln!("WARNING: {w}");
            }
            now_seen.push(print);
        }
        st.repairs_warned = Some(now_seen.join(","));
    }

    /// Reports go out through the channels, or to stdout.
    fn delivers(&self) -> bool {
        !self.args.print_only && !self.dry
    }

    fn pass(&self, mut st: State) -> Result<Code> {
        self.warn_repairs(&mut st);
        let mut sections = Vec::new();
        if let Some(detail) = st.corrupt_moved_to.take() {
            sections.push(Section::StateCorrupt { detail });
        }
        if let Some(fix) = rules::clock::correct(&mut st, self.clock.now) {
            sections.push(Section::Clock(fix));
        }

        let known = st.config_fingerprint.take();
        let text = match std::fs::read_to_string(&self.files.config) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return self.no_config(st),
            Err(e) => {
                let err = config::ConfigError {
                    path: self.files.config.clone(),
                    problems: vec![format!("cannot read config file: {e}")],
                    ..Default::default()
                };
                return self.config_invalid(st, sections, &err, None);
            }
        };
        let last_good = LastGood::beside(&self.files.state);
        // Why the config is invalid, when the tick watches with the last good one.
        let mut invalid = None;
        // With -v the warnings are printed every tick, so they are all
        // looked for every tick.
        let trusted = known.as_deref().filter(|_| self.global.verbose == 0);
        let (config, watch_only) = match config::parse_remembered(
            &text,
            &self.files.config,
            &self.files.home,
            false,
            trusted,
        ) {
            Ok((c, print)) => {
                // SPEC §11: cron mails whatever a job prints, so warnings are
                // printed when the config changed, or with -v.
                if known.as_deref() != Some(print.as_str()) || self.global.verbose > 0 {
                    for w in &c.warnings {
                        errln!("WARNING: {w}");
                    }
                }
                if !self.dry {
                    if let Err(e) = last_good.keep(&text, &print, known.as_deref()) {
                        errln!("warning: cannot keep a copy of the good config: {e}");
                    }
                }
                st.config_fingerprint = Some(print);
                (c, false)
            }
            Err(e) => {
                // The fingerprint still names the copy that validated.
                st.config_fingerprint = known;
                let Some((good, kept_at)) = last_good.load(&self.files.config, &self.files.home)
                else {
                    return self.config_invalid(st, sections, &e, Some(&text));
                };
                self.say_config_invalid(&mut st, &mut sections, &e, Some(kept_at));
                invalid = Some(e.problems.join("\n"));
                (good, true)
            }
        };
        let now = self.clock.now;
        let lang = self.args.lang.unwrap_or(config.defaults.language);
        // Job output is redacted of the tokens delivery would use and of
        // the config's own secrets (SPEC §7).
        crate::secrets::learn_later(deliver::secret_source(&config.defaults, self.files.clone()));
        let ctx = Context::from_env(
            config.defaults.notify.clone(),
            self.args.target.clone(),
            &self.files,
        );
        let mut notices = Vec::new();
        if self.delivers() && !st.outbox.is_empty() {
            notices.extend(deliver::flush_outbox(&mut st.outbox, &ctx, now).notices);
            // A refusal is said once, in this report (SPEC §7).
            for (label, error) in st.outbox.untold_refusals() {
                sections.insert(0, Section::DeliveryRefused { label, error });
            }
        }

        // With the last good config the tick only watches: nothing is
        // started, and neither the queue nor the checks run (SPEC §5 step 2).
        let mut observed = BTreeMap::new();
        let save_error = self
            .run_all(&config, &mut st, &mut sections, watch_only, &mut observed)
            .err();
        if let Some(error) = &save_error {
            sections.push(Section::SaveFailed {
                error: error.clone(),
            });
        }

        let mut save_error = save_error;
        if !sections.is_empty() {
            let msg = report::message(lang, &self.clock, &sections, now);
            if self.delivers() {
                match self.send(&mut st, &ctx, &msg) {
                    Ok(sent) => notices.extend(sent),
                    Err(e) => {
                        errln!(
                            "ERROR: the state could not be saved, so nothing was delivered: {e}"
                        );
                        save_error = Some(e);
                    }
                }
            } else {
                outln!("{}", msg.text());
            }
        }
        for n in &notices {
            errln!("{n}");
        }
        // SPEC §10: Alertmanager is a channel; the metrics and the ping
        // follow the save in `finish`.
        let fleet = Fleet::new(self.metrics_path().as_deref(), Some(&config.defaults));
        let facts = self.facts(&st, Some(&config), invalid, observed);
        let post_failed = fleet.post_alerts(&mut st, &facts, self.fleet_mode(), &ctx);
        if self.global.verbose > 0 {
            errln!(
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
                    errln!(
                        "tick: {}: {}",
                        job.id,
                        crate::commands::decision_text(d, now)
                    );
                }
            }
        }
        let fleet = FleetEnd::new(&fleet, facts, post_failed);
        self.finish(st, watch_only, save_error.is_some(), fleet)
    }

    /// SPEC §5 step 6: the report goes into the outbox, the state is saved,
    /// and only then is it delivered. If the save fails nothing is sent —
    /// the report is not on record, and the next tick builds it again.
    fn send(&self, st: &mut State, ctx: &Context, msg: &Message) -> Result<Vec<String>, String> {
        let mut notices = deliver::enqueue(&mut st.outbox, ctx, msg, self.clock.now);
        if let Err(e) = state::save(&self.files.state, st) {
            return Err(format!("{e:#}"));
        }
        notices.extend(deliver::flush_outbox(&mut st.outbox, ctx, self.clock.now).notices);
        Ok(notices)
    }

    /// SPEC §11: a config file that does not exist is not invalid — say once
    /// an hour that there is nothing to watch, and watch nothing.
    ///
    /// The outbox is still retried (SPEC §7: at the start of every later
    /// tick), through the channels of no config: Telegram only (§7), never
    /// the last good copy's (§11: not used for a file that was deleted).
    /// Entries for other channels are kept, marked as for a channel no
    /// longer configured, and so no longer set exit 3; a Telegram entry that
    /// still fails does, as the next tick really retries it.
    fn no_config(&self, mut st: State) -> Result<Code> {
        if rules::config_alert_due(st.last_config_error_at, self.clock.now) {
            errln!(
                "ops-monitor: no job config at {}: nothing to watch (create it, or point \
                 --config-file or OPS_MONITOR_CONFIG at it; `ops-monitor init` writes a starter)",
                self.files.config.display()
            );
            st.last_config_error_at = Some(self.clock.now);
        }
        if self.delivers() && !st.outbox.is_empty() {
            let ctx = Context::from_env(None, self.args.target.clone(), &self.files);
            // A refusal is told by the next report, once there is a config.
            for n in deliver::flush_outbox(&mut st.outbox, &ctx, self.clock.now).notices {
                errln!("{n}");
            }
        }
        let fleet = Fleet::new(self.metrics_path().as_deref(), None);
        let facts = self.facts(&st, None, None, BTreeMap::new());
        self.finish(st, false, false, FleetEnd::new(&fleet, facts, false))
    }

    /// Print the config error, and add its alert (at most once an hour) as
    /// the first section.
    fn say_config_invalid(
        &self,
        st: &mut State,
        sections: &mut Vec<Section>,
        err: &config::ConfigError,
        watching_since: Option<f64>,
    ) {
        let error = err.to_string();
        let path = self.files.config.display().to_string();
        if !self.global.quiet || self.args.print_only {
            errln!("ERROR: config invalid: {path}: {error}");
        }
        if rules::config_alert_due(st.last_config_error_at, self.clock.now) {
            sections.insert(
                0,
                Section::ConfigInvalid {
                    path,
                    error,
                    watching_since,
                },
            );
            st.last_config_error_at = Some(self.clock.now);
        }
    }

    /// Save (unless dry run) and pick the exit code (`rules::tick_exit`);
    /// then the metrics and the ping (SPEC §10), which describe the tick as
    /// it ended.
    fn finish(
        &self,
        mut st: State,
        config_invalid: bool,
        save_failed: bool,
        fleet: FleetEnd,
    ) -> Result<Code> {
        let end = TickEnd {
            signal: signals::received(),
            config_invalid,
            save_failed,
            undelivered: (self.delivers() && !config_invalid && st.outbox.retried() > 0)
                || fleet.post_failed,
        };
        let code = rules::tick_exit(end);
        if !self.dry {
            let outcome = match code {
                Code::Ok => "ok",
                Code::Undelivered => "undelivered",
                Code::Usage => "config invalid",
                _ => "interrupted",
            };
            let previous = st.monitor.take().unwrap_or_default();
            // The metrics' "last success": the jobs were watched with a
            // valid config and the tick ran to its end.
            let success = matches!(code, Code::Ok | Code::Undelivered);
            st.monitor = Some(MonitorRecord {
                last_tick_at: self.clock.now,
                last_tick_duration_ms: self.started.elapsed().as_millis() as u64,
                last_tick_outcome: outcome.to_string(),
                last_success_at: if success {
                    Some(self.clock.now)
                } else {
                    previous.last_success_at
                },
                extra: previous.extra,
            });
            let saved = state::save(&self.files.state, &mut st);
            let code = if saved.is_ok() {
                code
            } else {
                if let Some(m) = st.monitor.as_mut() {
                    m.last_success_at = previous.last_success_at;
                }
                rules::tick_exit(TickEnd {
                    save_failed: true,
                    ..end
                })
            };
            fleet
                .fleet
                .write_metrics(&st, &fleet.facts, code, self.started.elapsed());
            // A signal means stop now: no ping that may take 10 s.
            if signals::received().is_none() {
                fleet.fleet.ping(&st, &fleet.facts, code);
            }
            saved?;
        }
        Ok(code)
    }

    /// SPEC §10: `--metrics-file` (wins over `defaults.metricsFile`).
    fn metrics_path(&self) -> Option<std::path::PathBuf> {
        self.args
            .metrics_file
            .as_deref()
            .map(crate::paths::expand_tilde)
    }

    fn fleet_mode(&self) -> fleet::Mode {
        match (self.dry, self.args.print_only) {
            (true, _) => fleet::Mode::DryRun,
            (false, true) => fleet::Mode::PrintOnly,
            (false, false) => fleet::Mode::Send,
        }
    }

    /// What this tick saw, for the metrics, the alerts and the ping.
    /// `config_error`: the config file is invalid, and why.
    fn facts<'a>(
        &self,
        st: &State,
        config: Option<&'a Config>,
        config_error: Option<String>,
        observed: BTreeMap<String, Observation>,
    ) -> TickFacts<'a> {
        TickFacts {
            config,
            config_valid: config_error.is_none(),
            config_error,
            observed,
            now: self.clock.now,
            previous_tick_at: st.monitor.as_ref().map(|m| m.last_tick_at),
            host: deliver::hostname(),
        }
    }

    /// SPEC §5 step 2 with no last good copy: alert at most once an hour
    /// through the channels the broken file still names (else Telegram),
    /// save, exit 2.
    fn config_invalid(
        &self,
        mut st: State,
        mut sections: Vec<Section>,
        err: &config::ConfigError,
        text: Option<&str>,
    ) -> Result<Code> {
        self.say_config_invalid(&mut st, &mut sections, err, None);
        // SPEC §10: metrics, alerts and the ping still go where the broken
        // file says, as far as it can be read.
        let defaults = text.and_then(|t| config::defaults_of_broken(t, &self.files.config));
        let fleet = Fleet::new(self.metrics_path().as_deref(), defaults.as_ref());
        let channels = text.and_then(|t| config::notify_of_broken(t, &self.files.config));
        let ctx = Context::from_env(channels, self.args.target.clone(), &self.files);
        if !sections.is_empty() {
            // The language the broken file asks for, as far as it can be read,
            // like its channels (`--lang` first, as on every tick).
            let lang = self
                .args
                .lang
                .or(defaults.as_ref().map(|d| d.language))
                .unwrap_or_default();
            let msg = report::message(lang, &self.clock, &sections, self.clock.now);
            if self.delivers() {
                let sent = self.send(&mut st, &ctx, &msg).unwrap_or_else(|e| {
                    vec![format!(
                        "ERROR: the state could not be saved, so nothing was delivered: {e}"
                    )]
                });
                for n in sent {
                    errln!("{n}");
                }
            } else {
                outln!("{}", msg.text());
            }
        }
        let facts = self.facts(&st, None, Some(err.problems.join("\n")), BTreeMap::new());
        let post_failed = fleet.post_alerts(&mut st, &facts, self.fleet_mode(), &ctx);
        self.finish(st, true, false, FleetEnd::new(&fleet, facts, post_failed))
    }

    /// SPEC §5 steps 4–5: the queue (§5.4), the due checks (§5.5) and the
    /// status of every enabled long job, all in one parallel pool, each with
    /// its own time limit; then every decision in config order (queue,
    /// checks, long jobs), whatever finished first. With the last good
    /// config (`watch_only`) only the status commands run. `observed` gets
    /// what each long job's status said (SPEC §10).
    fn run_all(
        &self,
        config: &Config,
        st: &mut State,
        sections: &mut Vec<Section>,
        watch_only: bool,
        observed: &mut BTreeMap<String, Observation>,
    ) -> Result<(), String> {
        let now = self.clock.now;
        let mut tasks: Vec<Task> = Vec::new();
        // Queue items whose job may not run are settled at once, in place.
        let mut queue_sections: Vec<(usize, Section)> = Vec::new();
        if !watch_only {
            for i in 0..st.queue.len() {
                if !rules::queue_due(&st.queue[i], now) {
                    continue;
                }
                if st.queue[i].verifies.is_none() {
                    // Queued by an earlier version: recognised by its reason.
                    st.queue[i].verifies =
                        rules::verification_of(&st.queue[i], &config.jobs).map(|w| w.id.clone());
                }
                let verdict = rules::queue_verdict(&st.queue[i], &config.jobs);
                let QueueVerdict::Run(job) = verdict else {
                    queue_sections.push((i, rules::queue_refuse(&mut st.queue[i], &verdict)));
                    continue;
                };
                // SPEC §11: the item's own limit, else the job's, else 300 s.
                let limit = runner::limit(
                    st.queue[i]
                        .timeout_seconds
                        .or(job.policy.timeout_seconds)
                        .unwrap_or(runner::QUEUED_RUN_TIMEOUT_SECONDS),
                    runner::QUEUED_RUN_TIMEOUT_SECONDS,
                );
                // Items for the same job run one after another, in one task.
                match tasks
                    .iter_mut()
                    .find(|t| matches!(t, Task::Queue { job: j, .. } if j.id == job.id))
                {
                    Some(Task::Queue { items, .. }) => items.push((i, limit)),
                    _ => tasks.push(Task::Queue {
                        job,
                        items: vec![(i, limit)],
                    }),
                }
            }
            for job in &config.jobs {
                let prev = st.jobs.get(&job.id);
                if rules::check_due(job, prev.unwrap_or(&Default::default()), now) {
                    let limit = runner::limit(
                        job.policy
                            .timeout_seconds
                            .unwrap_or(runner::CHECK_TIMEOUT_SECONDS),
                        runner::CHECK_TIMEOUT_SECONDS,
                    );
                    tasks.push(Task::Check { job, limit });
                }
            }
        }
        let long: Vec<&Job> = config
            .jobs
            .iter()
            .filter(|j| j.enabled && j.kind == Kind::LongRunningRead)
            .collect();
        tasks.extend(long.iter().map(|j| Task::Status(j)));

        let done = runner::pool(&tasks, self.args.parallel as usize, |t| self.work(t));

        let mut checks = Vec::new();
        let mut observations = Vec::new();
        for (task, result) in tasks.iter().zip(done) {
            match (task, result) {
                (Task::Queue { job, .. }, Done::Queue(runs)) => {
                    for (i, ran) in runs {
                        let section = match ran {
                            Ran::Recorded => Some(would_run(job)),
                            Ran::Done(out) => {
                                rules::record_run(st.job_mut(&job.id), &out, now);
                                rules::queue_finish(&mut st.queue[i], job, &out, now)
                            }
                        };
                        queue_sections.extend(section.map(|s| (i, s)));
                    }
                }
                (Task::Check { job, .. }, Done::Check(ran)) => checks.push((*job, ran)),
                (Task::Status(job), Done::Status(obs)) => observations.push((*job, obs)),
                _ => unreachable!("each task has its own kind of result"),
            }
        }
        queue_sections.sort_by_key(|(i, _)| *i);
        // SPEC §11: a silence of the job holds back everything about it —
        // its queued runs too (the item keeps the result; `logs` shows it).
        queue_sections.retain(|(i, _)| !rules::silenced(&st.silences, &st.queue[*i].job_id, now));
        sections.extend(queue_sections.into_iter().map(|(_, s)| s));
        self.report_verifications(config, st, sections);
        st.trim_queue();
        if signals::received().is_some() {
            // Interrupted commands say nothing about the jobs: decide nothing.
            return Ok(());
        }
        for (job, ran) in checks {
            let out = match ran {
                Ran::Recorded => {
                    sections.push(would_run(job));
                    continue;
                }
                Ran::Done(out) => out,
            };
            let prev = st.jobs.get(&job.id).cloned().unwrap_or_default();
            let silence = rules::silence_until(&st.silences, &job.id, now);
            let quiet = rules::why::quiet_until(&job.policy.quiet_hours, &self.clock);
            let (new, section) = rules::decide_check(job, &prev, &out, now, silence, quiet);
            st.jobs.insert(job.id.clone(), new);
            sections.extend(section);
        }
        observed.extend(observations.iter().map(|(j, o)| (j.id.clone(), o.clone())));
        self.decide_long_jobs(observations, st, sections, watch_only)
    }

    /// One task of the pool.
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

    fn work(&self, task: &Task) -> Done {
        match task {
            Task::Queue { job, items } => {
                let mut runs = Vec::new();
                for (i, limit) in items {
                    if signals::received().is_some() {
                        break;
                    }
                    runs.push((*i, self.runner.run(job, Which::Run, *limit)));
                }
                Done::Queue(runs)
            }
            Task::Check { job, limit } => Done::Check(self.runner.run(job, Which::Run, *limit)),
            Task::Status(job) => Done::Status(runner::observe(self.runner, job)),
        }
    }

    /// SPEC §5 step 5: the decisions for the long jobs, in config order. The
    /// automatic starts they call for run in parallel, after their
    /// `lastAutoResumeAt` has been saved durably — a decision with a side
    /// effect is written down before the side effect, so no crash, full disk
    /// or broken pipe can make a start happen twice. If that save fails,
    /// nothing is started and the error is returned.
    fn decide_long_jobs(
        &self,
        observations: Vec<(&Job, Observation)>,
        st: &mut State,
        sections: &mut Vec<Section>,
        watch_only: bool,
    ) -> Result<(), String> {
        let now = self.clock.now;
        let never_seen = state::JobState::default();
        let plans: Vec<Option<Autorun>> = observations
            .iter()
            .map(|(job, obs)| {
                let prev = st.jobs.get(&job.id).unwrap_or(&never_seen);
                (!watch_only)
                    .then(|| rules::plan_autorun(job, obs, prev, now))
                    .flatten()
            })
            .collect();
        let to_start: Vec<&Job> = observations
            .iter()
            .zip(&plans)
            .filter(|(_, p)| **p == Some(Autorun::Start))
            .map(|((job, _), _)| *job)
            .collect();
        let mut save_error = None;
        if !to_start.is_empty() && !self.dry {
            for job in &to_start {
                st.job_mut(&job.id).last_auto_resume_at = Some(now);
            }
            if let Err(e) = state::save(&self.files.state, st) {
                save_error = Some(format!("{e:#}"));
            }
        }
        let started: Vec<Option<Ran>> = if save_error.is_some() {
            to_start.iter().map(|_| None).collect()
        } else {
            runner::pool(&to_start, self.args.parallel as usize, |job| {
                Some(self.runner.run(job, Which::Start, runner::start_timeout()))
            })
        };
        let mut started = to_start.iter().map(|j| j.id.as_str()).zip(started);
        for ((job, obs), plan) in observations.iter().zip(plans) {
            // Taken out, not copied: the decision returns the job's new state.
            let mut next_prev = st.jobs.remove(&job.id).unwrap_or_default();
            let note = match plan {
                Some(Autorun::Start) => {
                    let ran = started.find(|(id, _)| *id == job.id).and_then(|(_, r)| r);
                    match ran {
                        // The save failed: nothing was started.
                        None => None,
                        Some(Ran::Recorded) => Some(AutorunNote::WouldStart),
                        Some(Ran::Done(out)) => {
                            let mut record = rules::run_record(&out);
                            record.at = Some(now);
                            record.by = Some("autoResume".into());
                            next_prev.last_start = Some(Box::new(record));
                            Some(AutorunNote::from_start(&out))
                        }
                    }
                }
                Some(Autorun::Suppressed) => Some(AutorunNote::Suppressed),
                Some(Autorun::Blocked) => Some(AutorunNote::Blocked),
                None => None,
            };
            let silence = rules::silence_until(&st.silences, &job.id, now);
            let outcome = rules::decide_job(job, obs, &next_prev, &self.clock, note, silence);
            st.jobs.insert(job.id.clone(), outcome.state);
            if let Some(s) = outcome.section {
                sections.push(Section::Job(s));
            }
        }
        match save_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Work for the tick's pool.
enum Task<'c> {
    /// Due queue items of one job, run one after another: (index, limit).
    Queue {
        job: &'c Job,
        items: Vec<(usize, Duration)>,
    },
    Check {
        job: &'c Job,
        limit: Duration,
    },
    Status(&'c Job),
}

/// What a task did.
enum Done {
    Queue(Vec<(usize, Ran)>),
    Check(Ran),
    Status(Observation),
}

/// What `finish` hands to the fleet part (SPEC §10) once the state is saved.
struct FleetEnd<'a> {
    fleet: &'a Fleet,
    facts: TickFacts<'a>,
    /// An Alertmanager post failed (exit 3).
    post_failed: bool,
}

impl<'a> FleetEnd<'a> {
    fn new(fleet: &'a Fleet, facts: TickFacts<'a>, post_failed: bool) -> FleetEnd<'a> {
        FleetEnd {
            fleet,
            facts,
            post_failed,
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

#[cfg(test)]
mod tests {
    //! The orchestration of one pass, with the job commands scripted through
    //! the runner seam: no process is started.

    use clap::Parser;
    use serde_json::{json, Value};

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::runner::Scripted;

    const NOW: f64 = 1_795_262_400.0;

    /// One pass of the tick `cli` describes, at noon, through `runner`.
    fn pass_at_noon(cli: &Cli, runner: &Scripted, st: State) -> Result<Code> {
        let Command::Tick(args) = &cli.command else {
            panic!("a tick")
        };
        let g = &cli.global;
        Tick {
            files: Files::resolve(g.config_file.as_deref(), g.state_file.as_deref()),
            global: g,
            args,
            clock: Clock::from_parts(NOW, 12, 0, 0),
            started: Instant::now(),
            runner,
            dry: false,
        }
        .pass(st)
    }

    #[test]
    fn a_pass_runs_the_queue_checks_statuses_and_a_start_and_records_them() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("ops-jobs.json");
        let state_path = dir.path().join("ops-monitor.json");
        let jobs = json!({"version": 1, "defaults": {"quietHours": {"start": "00:00", "end": "00:00"}},
        "jobs": [
            {"id": "a", "kind": "long_running_read", "risk": "read_only", "enabled": true,
             "commands": {"start": ["start-a"], "status": ["status-a"]},
             "policy": {"autoResume": true}},
            {"id": "c", "kind": "one_shot_read", "risk": "read_only", "enabled": true,
             "commands": {"run": ["check-c"]}, "policy": {"everySeconds": 60}},
        ]});
        std::fs::write(&config, jobs.to_string()).unwrap();
        let cli = Cli::try_parse_from([
            "ops-monitor",
            "tick",
            "--print-only",
            "--config-file",
            config.to_str().unwrap(),
            "--state-file",
            state_path.to_str().unwrap(),
        ])
        .unwrap();
        let runner = Scripted::new()
            .answer(
                "a",
                Which::Status,
                0,
                r#"{"running":false,"completed":false}"#,
            )
            .answer("a", Which::Start, 0, "started")
            .answer("c", Which::Run, 2, "DISK CRITICAL - / 97% used");
        let mut st = State::default();
        st.queue
            .push(state::QueueItem::new("c", NOW, NOW, "after w".into()));
        assert_eq!(pass_at_noon(&cli, &runner, st).unwrap(), Code::Ok);

        let mut asked = runner.asked();
        // The pool runs in any order; the start comes after every status.
        assert_eq!(asked.last(), Some(&("a".to_string(), Which::Start)));
        asked.sort_by(|x, y| (&x.0, x.1 as u8).cmp(&(&y.0, y.1 as u8)));
        assert_eq!(
            asked,
            vec![
                ("a".to_string(), Which::Status),
                ("a".to_string(), Which::Start),
                ("c".to_string(), Which::Run),
                ("c".to_string(), Which::Run),
            ]
        );
        let saved: Value =
            serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
        assert_eq!(saved["jobs"]["a"]["lastAutoResumeAt"], json!(NOW));
        assert_eq!(
            saved["jobs"]["a"]["lastStart"]["stdoutTail"],
            json!("started")
        );
        assert_eq!(saved["jobs"]["c"]["lastRun"]["exitCode"], json!(2));
        assert_eq!(saved["queue"][0]["status"], json!("failed"));
        assert_eq!(saved["monitor"]["lastTickOutcome"], json!("ok"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// Whatever the state file holds — queue items for other jobs,
        /// command channels, odd fields — a tick runs only the commands the
        /// config names (issue 8: the state file never decides what runs).
        #[test]
        fn a_tick_runs_only_what_the_config_names(v in crate::state::props::state_object()) {
            let text = serde_json::to_string(&v).unwrap();
            let Ok(st) = state::parse(text.as_bytes()) else { return Ok(()) };
            let dir = tempfile::tempdir().unwrap();
            let config = dir.path().join("ops-jobs.json");
            let state_path = dir.path().join("ops-monitor.json");
            std::fs::write(&config, json!({"version": 1, "jobs": [
                {"id": "a", "kind": "long_running_read", "risk": "read_only", "enabled": true,
                 "commands": {"start": ["start-a"], "status": ["status-a"]},
                 "policy": {"autoResume": true}},
                {"id": "c", "kind": "one_shot_read", "risk": "read_only", "enabled": true,
                 "commands": {"run": ["check-c"]}, "policy": {"everySeconds": 60}},
                {"id": "evil", "kind": "one_shot_write", "risk": "write_external",
                 "commands": {"run": ["rm-rf"]}, "after": [{"jobId": "c"}]},
            ]}).to_string()).unwrap();
            let cli = Cli::try_parse_from([
                "ops-monitor", "tick", "--print-only",
                "--config-file", config.to_str().unwrap(),
                "--state-file", state_path.to_str().unwrap(),
            ]).unwrap();
            let runner = Scripted::new()
                .answer("a", Which::Status, 0, r#"{"running":false,"completed":false}"#)
                .answer("a", Which::Start, 0, "")
                .answer("c", Which::Run, 0, "");
            let _ = pass_at_noon(&cli, &runner, st);
            for asked in runner.asked() {
                let allowed = [
                    ("a".to_string(), Which::Status),
                    ("a".to_string(), Which::Start),
                    ("c".to_string(), Which::Run),
                ];
                proptest::prop_assert!(allowed.contains(&asked), "ran {asked:?}");
            }
        }
    }
}
