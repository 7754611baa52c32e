# shellcheck shell=sh
# shellcheck disable=SC2034,SC2154 # sourced: the callers set $here and use these
# Shared by start.sh, status.sh, stop.sh and scan.sh: where the scanner keeps
# its files, and how to tell whether it is alive. Sourced, not run; the caller
# sets $here (the folder of this file) first.

# The work folder defaults to <repo>/target/demo/scan, found from this file's
# place rather than from the cwd, so the scripts write nothing outside the
# repo's target/ whatever folder they are called from.
repo=$(cd "$here/../.." && pwd -P) || exit 3
work=${SCAN_WORK:-$repo/target/demo/scan}
case $work in
/*) ;;
*) work=$(pwd -P)/$work ;;
esac

pid_file=$work/pid
state_file=$work/state
queue_file=$work/queue
done_file=$work/done
reason_file=$work/stop-reason
log_file=$work/scan.log

# load_state: sets next (line of the queue scanned next), qlen (lines in the
# queue), scanned and files from the checkpoint. Fails when it is missing or
# not what scan.sh writes.
load_state() {
    next='' qlen='' scanned='' files=''
    [ -f "$state_file" ] || return 1
    while IFS='=' read -r key value; do
        case $key in
        next) next=$value ;;
        qlen) qlen=$value ;;
        scanned) scanned=$value ;;
        files) files=$value ;;
        esac
    done <"$state_file"
    for n in "$next" "$qlen" "$scanned" "$files"; do
        case $n in
        '' | *[!0-9]*) return 1 ;;
        esac
    done
}

# live_pid: sets $pid and succeeds when the pid file names a live scanner.
live_pid() {
    pid=
    [ -f "$pid_file" ] || return 1
    read -r p <"$pid_file" || return 1
    case $p in
    '' | *[!0-9]*) return 1 ;;
    esac
    kill -0 "$p" 2>/dev/null || return 1
    # A pid left behind by a scanner killed with SIGKILL may since have been
    # given to another program; when ps can tell, make sure it is ours. A ps
    # that cannot answer (busybox without -p) is no evidence either way.
    if args=$(ps -p "$p" -o args= 2>/dev/null) && [ -n "$args" ]; then
        case $args in
        *scan.sh*) ;;
        *) return 1 ;;
        esac
    fi
    pid=$p
}
