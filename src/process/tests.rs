//! The tests of [`run`]: real `/bin/sh` children, real pipes, both ways the
//! wait loop learns of an exit (a pidfd, and without one).

use super::*;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::thread;

use rustix::process::{kill_process, Pid, Signal};

fn sh(script: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script.into()]
}

fn run_sh(script: &str) -> Output {
    let argv = sh(script);
    run(&Spec::new(&argv, Path::new("/"), Duration::from_secs(20)))
}

fn dies_soon(pid: i32) -> bool {
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        if !alive(pid) {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

fn read_pid(path: &Path) -> i32 {
    fs::read_to_string(path).unwrap().trim().parse().unwrap()
}

#[test]
fn exit_codes() {
    let ok = run_sh("exit 0");
    assert_eq!(ok.ending, Ending::Exited(0));
    assert!(ok.success());
    let three = run_sh("exit 3");
    assert_eq!(three.ending, Ending::Exited(3));
    assert_eq!(three.exit_code(), 3);
    assert!(!three.success());
}

#[test]
fn stdout_and_stderr_are_captured_apart() {
    let out = run_sh("echo out; echo err >&2; echo more");
    assert_eq!(out.stdout, "out\nmore\n");
    assert_eq!(out.stderr, "err\n");
    assert!(!out.stdout_truncated && !out.stderr_truncated);
}

#[test]
fn argv_is_not_a_shell_string() {
    let argv: Vec<String> = vec!["/bin/echo".into(), "a  b; $HOME".into()];
    let out = run(&Spec::new(&argv, Path::new("/"), Duration::from_secs(20)));
    assert_eq!(out.stdout, "a  b; $HOME\n");
}

#[test]
fn cwd_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let argv = sh("pwd");
    let out = run(&Spec::new(&argv, dir.path(), Duration::from_secs(20)));
    let want = dir.path().canonicalize().unwrap();
    assert_eq!(Path::new(out.stdout.trim()).canonicalize().unwrap(), want);
}

#[test]
fn stdin_is_delivered_or_empty() {
    let argv = sh("cat; echo end");
    let spec = Spec::new(&argv, Path::new("/"), Duration::from_secs(20));
    let with = run(&spec.clone().with_stdin(b"hello\nworld\n"));
    assert_eq!(with.stdout, "hello\nworld\nend\n");
    let without = run(&spec);
    assert_eq!(without.stdout, "end\n");
}

#[test]
fn stdin_not_read_by_the_child_is_no_error() {
    let argv = sh("exit 0");
    let big = vec![b'x'; 4 * 1024 * 1024];
    let out = run(&Spec::new(&argv, Path::new("/"), Duration::from_secs(20)).with_stdin(&big));
    assert_eq!(out.ending, Ending::Exited(0));
}

#[test]
fn invalid_utf8_is_replaced() {
    let out = run_sh(r"printf 'a\377b\n'; printf '\303\251\n' >&2");
    assert_eq!(out.stdout, "a\u{FFFD}b\n");
    assert_eq!(out.stderr, "é\n");
}

#[test]
fn output_beyond_the_limit_is_cut_and_flagged() {
    let out = run_sh("head -c 3000000 /dev/zero | tr '\\0' a; echo done >&2");
    assert_eq!(out.ending, Ending::Exited(0));
    assert_eq!(out.stdout.len(), OUTPUT_LIMIT);
    assert!(out.stdout.bytes().all(|b| b == b'a'));
    assert!(out.stdout_truncated);
    assert_eq!(out.stderr, "done\n");
    assert!(!out.stderr_truncated);
}

#[test]
fn exactly_the_limit_is_not_truncated() {
    let out = run_sh(&format!("head -c {OUTPUT_LIMIT} /dev/zero | tr '\\0' a"));
    assert_eq!(out.stdout.len(), OUTPUT_LIMIT);
    assert!(!out.stdout_truncated);
}

/// Peak resident memory of this process, in KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn fifty_megabytes_finish_quickly_in_bounded_memory() {
    let before = peak_rss_kib();
    let t0 = Instant::now();
    let out = run_sh("yes | head -c 50000000; yes err | head -c 50000000 >&2");
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "took {:?}",
        t0.elapsed()
    );
    assert_eq!(out.ending, Ending::Exited(0));
    assert!(out.stdout_truncated && out.stderr_truncated);
    assert_eq!(out.stdout.len(), OUTPUT_LIMIT);
    assert_eq!(out.stderr.len(), OUTPUT_LIMIT);
    if let (Some(before), Some(after)) = (before, peak_rss_kib()) {
        // Other tests run alongside, so only a generous bound: 100 MB read
        // must not mean 100 MB held.
        assert!(
            after - before < 40 * 1024,
            "peak RSS grew by {} KiB",
            after - before
        );
    }
}

#[test]
fn empty_argv_fails_to_start() {
    let out = run(&Spec::new(&[], Path::new("/"), Duration::from_secs(1)));
    assert_eq!(out.ending, Ending::FailedToStart("empty command".into()));
    assert_eq!(out.exit_code(), -1);
}

#[test]
fn missing_program_fails_to_start() {
    let argv: Vec<String> = vec!["/nonexistent/ops-monitor-x".into()];
    let out = run(&Spec::new(&argv, Path::new("/"), Duration::from_secs(1)));
    let Ending::FailedToStart(why) = out.ending else {
        panic!("{:?}", out.ending)
    };
    assert!(
        why.starts_with("/nonexistent/ops-monitor-x: No such file or directory"),
        "{why}"
    );

    let argv: Vec<String> = vec!["ops-monitor-no-such-program-on-path".into()];
    let out = run(&Spec::new(&argv, Path::new("/"), Duration::from_secs(1)));
    assert!(
        matches!(out.ending, Ending::FailedToStart(_)),
        "{:?}",
        out.ending
    );
}

#[test]
fn non_executable_file_fails_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let script = testkit::script(&dir.path().join("job.sh"), "echo hi");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
    let argv = vec![script.display().to_string()];
    let out = run(&Spec::new(&argv, dir.path(), Duration::from_secs(1)));
    let Ending::FailedToStart(why) = out.ending else {
        panic!("{:?}", out.ending)
    };
    assert!(why.starts_with(&argv[0]), "{why}");
    assert!(why.contains("Permission denied"), "{why}");
}

#[test]
fn missing_cwd_fails_to_start_naming_it() {
    let argv = sh("true");
    let cwd = Path::new("/nonexistent/ops-monitor-cwd");
    let out = run(&Spec::new(&argv, cwd, Duration::from_secs(1)));
    let Ending::FailedToStart(why) = out.ending else {
        panic!("{:?}", out.ending)
    };
    assert!(
        why.starts_with("cwd /nonexistent/ops-monitor-cwd: "),
        "{why}"
    );
}

#[test]
fn killed_by_its_own_signal() {
    let out = run_sh("echo before; kill -9 $$");
    assert_eq!(out.ending, Ending::Signaled(9));
    assert_eq!(out.exit_code(), -9, "as Python's returncode");
    assert_eq!(out.stdout, "before\n");
}

#[test]
fn timeout_stops_the_command() {
    let argv = sh("echo begun; sleep 30");
    let out = run(&Spec::new(&argv, Path::new("/"), Duration::from_secs(1)));
    assert_eq!(out.ending, Ending::TimedOut);
    assert_eq!(out.exit_code(), -1);
    assert_eq!(out.stdout, "begun\n");
    assert!(out.duration >= Duration::from_secs(1));
    assert!(out.duration < Duration::from_secs(10), "{:?}", out.duration);
}

#[test]
fn a_child_ignoring_sigterm_is_killed_after_the_grace() {
    let argv = sh("trap '' TERM; sleep 30");
    let spec = Spec::new(&argv, Path::new("/"), Duration::from_millis(300))
        .with_grace(Duration::from_millis(300));
    let out = run(&spec);
    assert_eq!(out.ending, Ending::TimedOut);
    assert!(out.duration < Duration::from_secs(10), "{:?}", out.duration);
}

#[test]
fn a_grandchild_of_a_timed_out_command_does_not_survive() {
    let dir = tempfile::tempdir().unwrap();
    let argv = sh("sleep 30 & echo $! > pid; wait");
    let spec = Spec::new(&argv, dir.path(), Duration::from_millis(500));
    assert_eq!(run(&spec).ending, Ending::TimedOut);
    let pid = read_pid(&dir.path().join("pid"));
    assert!(dies_soon(pid), "grandchild {pid} survived");
}

#[test]
fn a_grandchild_ignoring_sigterm_is_killed_although_the_child_went() {
    let dir = tempfile::tempdir().unwrap();
    // The shell dies on SIGTERM; its background sleep ignores it.
    let argv = sh("(trap '' TERM; exec sleep 30) & echo $! > pid; wait");
    let spec = Spec::new(&argv, dir.path(), Duration::from_millis(500))
        .with_grace(Duration::from_millis(300));
    let out = run(&spec);
    assert_eq!(out.ending, Ending::TimedOut);
    assert!(out.duration < Duration::from_secs(10), "{:?}", out.duration);
    let pid = read_pid(&dir.path().join("pid"));
    assert!(dies_soon(pid), "grandchild {pid} survived");
}

#[test]
fn a_background_process_holding_stdout_is_not_waited_for_nor_killed() {
    // Both ways of learning of the exit: a pidfd (where the kernel has
    // them) and without.
    for use_pidfd in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let argv = sh("sleep 30 & echo $! > pid; echo started");
        let spec = Spec::new(&argv, dir.path(), Duration::from_secs(20));
        let out = run_with(&spec, &|| false, use_pidfd);
        let pid = read_pid(&dir.path().join("pid"));
        let still_there = alive(pid);
        if let Some(pid) = Pid::from_raw(pid) {
            let _ = kill_process(pid, Signal::KILL);
        }
        assert_eq!(out.ending, Ending::Exited(0));
        assert_eq!(out.stdout, "started\n");
        assert!(out.duration < Duration::from_secs(5), "{:?}", out.duration);
        assert!(still_there, "the daemon was killed");
    }
}

#[test]
fn stop_interrupts_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let argv = sh("sleep 30 & echo $! > pid; wait");
    let t0 = Instant::now();
    let stop = || t0.elapsed() > Duration::from_millis(300);
    let out = run_until(
        &Spec::new(&argv, dir.path(), Duration::from_secs(20)),
        &stop,
    );
    assert_eq!(out.ending, Ending::Interrupted);
    assert!(out.duration < Duration::from_secs(10), "{:?}", out.duration);
    let pid = read_pid(&dir.path().join("pid"));
    assert!(dies_soon(pid), "grandchild {pid} survived");
}

#[test]
fn nothing_is_started_once_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let argv = sh("touch started");
    let out = run_until(
        &Spec::new(&argv, dir.path(), Duration::from_secs(20)),
        &|| true,
    );
    assert_eq!(out.ending, Ending::Interrupted);
    assert!(!dir.path().join("started").exists());
}

#[test]
fn a_relative_program_is_found_from_the_cwd() {
    let dir = tempfile::tempdir().unwrap();
    testkit::script(&dir.path().join("job.sh"), "echo from job");
    let argv: Vec<String> = vec!["./job.sh".into()];
    let out = run(&Spec::new(&argv, dir.path(), Duration::from_secs(20)));
    assert_eq!(out.stdout, "from job\n", "{:?}", out.ending);
}

#[test]
fn without_a_pidfd_every_ending_is_still_told_apart() {
    let no_pidfd = |spec: &Spec| run_with(spec, &|| false, false);
    let dir = tempfile::tempdir().unwrap();

    let argv = sh(r"echo out; printf 'a\377b\n' >&2; exit 3");
    let out = no_pidfd(&Spec::new(&argv, dir.path(), Duration::from_secs(20)));
    assert_eq!(out.ending, Ending::Exited(3));
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("out\n", "a\u{FFFD}b\n")
    );

    let argv = sh("cat; head -c 3000000 /dev/zero | tr '\\0' a >&2");
    let out = no_pidfd(&Spec::new(&argv, dir.path(), Duration::from_secs(20)).with_stdin(b"in\n"));
    assert_eq!(out.stdout, "in\n");
    assert_eq!(out.stderr.len(), OUTPUT_LIMIT);
    assert!(out.stderr_truncated && !out.stdout_truncated);

    let argv = sh("kill -9 $$");
    let out = no_pidfd(&Spec::new(&argv, dir.path(), Duration::from_secs(20)));
    assert_eq!(out.ending, Ending::Signaled(9));

    let argv = sh("sleep 30 & echo $! > pid; echo begun; wait");
    let out = no_pidfd(&Spec::new(&argv, dir.path(), Duration::from_millis(500)));
    assert_eq!(out.ending, Ending::TimedOut);
    assert_eq!(out.stdout, "begun\n");
    let pid = read_pid(&dir.path().join("pid"));
    assert!(dies_soon(pid), "grandchild {pid} survived");

    let t0 = Instant::now();
    let stop = || t0.elapsed() > Duration::from_millis(300);
    let out = run_with(
        &Spec::new(&argv, dir.path(), Duration::from_secs(20)),
        &stop,
        false,
    );
    assert_eq!(out.ending, Ending::Interrupted);
    let pid = read_pid(&dir.path().join("pid"));
    assert!(dies_soon(pid), "grandchild {pid} survived");
    // The daemon case for this way: a_background_process_holding_stdout_….
}

#[test]
fn a_grandchild_holding_only_stderr_is_not_waited_for_and_may_print() {
    for use_pidfd in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        // The subshell outlives the run, holding only stderr, then writes
        // to it: with nobody reading, SIGPIPE would kill it before `alive`.
        let argv = sh("(sleep 0.5; echo late >&2; echo yes > alive) >/dev/null & echo started");
        let spec = Spec::new(&argv, dir.path(), Duration::from_secs(20));
        let out = run_with(&spec, &|| false, use_pidfd);
        assert_eq!(out.ending, Ending::Exited(0), "pidfd: {use_pidfd}");
        assert_eq!(out.stdout, "started\n");
        assert_eq!(out.stderr, "");
        assert!(out.duration < Duration::from_secs(5), "{:?}", out.duration);
        let marker = dir.path().join("alive");
        let until = Instant::now() + Duration::from_secs(5);
        while !marker.exists() && Instant::now() < until {
            thread::sleep(Duration::from_millis(20));
        }
        assert!(
            marker.exists(),
            "the grandchild died writing (pidfd: {use_pidfd})"
        );
    }
}

/// Both ways of learning of the exit: with a pidfd where the kernel has
/// them (the default), then without.
fn both_ways(spec: &Spec) -> [Output; 2] {
    [run(spec), run_with(spec, &|| false, false)]
}

#[test]
fn output_split_across_many_small_writes_with_sleeps() {
    let argv = sh(
        "i=0; while [ $i -lt 15 ]; do printf o$i,; printf e$i, >&2; sleep 0.02; i=$((i+1)); done",
    );
    let want = |c: char| (0..15).map(|i| format!("{c}{i},")).collect::<String>();
    for out in both_ways(&Spec::new(&argv, Path::new("/"), Duration::from_secs(20))) {
        assert_eq!(out.ending, Ending::Exited(0));
        assert_eq!(out.stdout, want('o'));
        assert_eq!(out.stderr, want('e'));
    }
}

#[test]
fn a_child_printing_without_pause_still_times_out() {
    let argv: Vec<String> = vec!["yes".into()];
    let spec = Spec::new(&argv, Path::new("/"), Duration::from_millis(500))
        .with_grace(Duration::from_millis(500));
    for out in both_ways(&spec) {
        assert_eq!(out.ending, Ending::TimedOut);
        assert_eq!(out.stdout.len(), OUTPUT_LIMIT);
        assert!(out.stdout_truncated);
        assert!(out.duration < Duration::from_secs(10), "{:?}", out.duration);
    }
}

#[test]
fn every_ending_is_described_in_one_wording() {
    let argv = sh("exit 1");
    let spec = Spec::new(&argv, Path::new("/"), Duration::from_secs(30));
    let mut out = run(&spec);
    assert_eq!(out.describe().to_string(), "exit=1");
    out.ending = Ending::Signaled(9);
    assert_eq!(out.describe().to_string(), "killed by signal 9");
    out.ending = Ending::TimedOut;
    assert_eq!(out.describe().to_string(), "timed out after 30s");
    out.limit = Duration::from_millis(2500);
    assert_eq!(out.describe().to_string(), "timed out after 2.5s");
    out.ending = Ending::FailedToStart("x: No such file or directory".into());
    assert_eq!(
        out.describe().to_string(),
        "failed to start: x: No such file or directory"
    );
    out.ending = Ending::Interrupted;
    assert_eq!(out.describe().to_string(), "interrupted");
}

#[test]
fn the_limit_is_recorded_even_when_nothing_ran() {
    let out = run(&Spec::new(&[], Path::new("/"), Duration::from_secs(7)));
    assert_eq!(out.limit, Duration::from_secs(7));
    assert_eq!(out.describe().to_string(), "failed to start: empty command");
}
