#!/bin/sh
# Start the scanner in the background, detached, and return at once.
# Resumes from the checkpoint if there is one; refuses to start a second copy
# (exit 1); does nothing once the scan has completed (exit 0).

here=$(cd "$(dirname "$0")" && pwd -P) || exit 3
# shellcheck source=examples/scan/common.sh
. "$here/common.sh"

mkdir -p "$work" || exit 1

# Two start.sh at once (a person and the monitor's autoResume) must not both
# see "not running". mkdir is atomic; the lock holds the owner's pid so that a
# lock left by a start.sh that was killed can be taken over.
lock=$work/start.lock
if ! mkdir "$lock" 2>/dev/null; then
    read -r owner <"$lock/pid" 2>/dev/null || owner=
    if [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; then
        echo "another start.sh (pid $owner) is starting the scanner" >&2
        exit 1
    fi
    rm -rf "$lock"
    mkdir "$lock" 2>/dev/null || {
        echo "cannot take the start lock $lock" >&2
        exit 1
    }
fi
printf '%s\n' "$$" >"$lock/pid"
trap 'rm -rf "$lock"' EXIT
trap 'exit 1' INT TERM HUP

if live_pid; then
    echo "scanner already running (pid $pid); not starting a second copy" >&2
    exit 1
fi
if [ -f "$done_file" ]; then
    echo "scan already completed; delete $work to scan again"
    exit 0
fi
if load_state; then
    how="resuming from the checkpoint ($scanned dirs scanned, $((qlen - next + 1)) pending)"
else
    how="new scan of ${SCAN_ROOT:-/usr/share}"
fi
rm -f "$pid_file"

# A session and process group of its own, so that nothing aimed at the caller
# (its terminal closing, a monitor stopping the start command's group) reaches
# the scanner. setsid(1) is util-linux; macOS has perl instead.
if command -v setsid >/dev/null 2>&1; then
    setsid sh "$here/scan.sh" </dev/null >>"$log_file" 2>&1 &
elif command -v perl >/dev/null 2>&1; then
    perl -MPOSIX -e 'POSIX::setsid(); exec @ARGV or die "exec: $!\n"' \
        sh "$here/scan.sh" </dev/null >>"$log_file" 2>&1 &
else
    nohup sh "$here/scan.sh" </dev/null >>"$log_file" 2>&1 &
fi

# Wait (at most 5 s) for the scanner to record its pid, so that a status run
# right after this one already sees it running.
tries=0
while ! live_pid && [ "$tries" -lt 50 ]; do
    sleep 0.1
    tries=$((tries + 1))
    if [ -f "$reason_file" ] || [ -f "$done_file" ]; then break; fi
done
if live_pid; then
    echo "started the scanner (pid $pid), $how"
    echo "work folder: $work"
    exit 0
fi
if [ -f "$done_file" ]; then
    echo "started the scanner, $how; it has already completed"
    exit 0
fi
echo "the scanner did not start; its log ($log_file) ends with:" >&2
tail -n 5 "$log_file" >&2
exit 1
