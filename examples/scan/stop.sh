#!/bin/sh
# Stop the scanner: SIGTERM, after which it finishes the folder in hand,
# checkpoints and exits (stopReason "stopped"). Waits up to 10 s for it.
# Not running is not an error (exit 0).

here=$(cd "$(dirname "$0")" && pwd -P) || exit 3
# shellcheck source=examples/scan/common.sh
. "$here/common.sh"

if ! live_pid; then
    if [ -f "$pid_file" ]; then
        echo "scanner not running (its pid file is stale: it did not stop cleanly)"
    else
        echo "scanner not running"
    fi
    exit 0
fi
target=$pid
kill -TERM "$target" || exit 1
# live_pid rather than kill -0: the scanner removes its pid file as its last
# act, and kill -0 would also count the zombie it is until a parent reaps it.
tries=0
while live_pid && [ "$tries" -lt 100 ]; do
    sleep 0.1
    tries=$((tries + 1))
done
if live_pid; then
    echo "sent SIGTERM to the scanner (pid $target) but it is still running after 10 s" >&2
    exit 1
fi
pid=$target
if load_state; then
    echo "stopped the scanner (pid $pid) at $scanned dirs scanned, $((qlen - next + 1)) pending, $files files"
else
    echo "stopped the scanner (pid $pid)"
fi
