#!/bin/sh
# Print the scanner's status as ONE JSON object (the ops-monitor status
# contract): running, completed, pid, stopReason, progress, message.
# No file or folder name ever goes into the JSON, so odd names cannot break it.

here=$(cd "$(dirname "$0")" && pwd -P) || exit 3
# shellcheck source=examples/scan/common.sh
. "$here/common.sh"

running=false completed=false pid_json='' reason='' progress=''
if load_state; then
    pending=$((qlen - next + 1))
    progress=$(printf '{"scannedDirs": %s, "pendingDirs": %s, "files": %s}' \
        "$scanned" "$pending" "$files")
elif [ -f "$state_file" ]; then
    reason=bad_checkpoint
fi

if live_pid; then
    running=true
    pid_json=", \"pid\": $pid"
    reason=
    if [ -n "$progress" ]; then
        message="scanning: $scanned dirs done, $pending waiting, $files files so far"
    else
        message="scanner starting"
    fi
elif [ -f "$done_file" ]; then
    completed=true
    message="scan complete: $scanned dirs, $files files"
elif [ -n "$reason" ]; then
    message="the checkpoint in the work folder is unreadable"
elif [ -f "$reason_file" ]; then
    read -r reason <"$reason_file" || reason=
    # Only a plain word goes into the JSON.
    case $reason in
    '' | *[!a-z_]*) reason=exited ;;
    esac
    case $reason in
    stopped) message="stopped by stop.sh; start.sh resumes from the checkpoint" ;;
    bad_root) message="SCAN_ROOT is not a readable directory" ;;
    *) message="scanner ended ($reason); start.sh resumes from the checkpoint" ;;
    esac
elif [ -n "$progress" ]; then
    reason=exited
    message="the scanner died without a clean stop; start.sh resumes from the last checkpoint"
else
    reason=not_started
    message="not started yet; start.sh starts it"
fi

printf '{"running": %s, "completed": %s%s' "$running" "$completed" "$pid_json"
[ -z "$reason" ] || printf ', "stopReason": "%s"' "$reason"
[ -z "$progress" ] || printf ', "progress": %s' "$progress"
printf ', "message": "%s"}\n' "$message"
