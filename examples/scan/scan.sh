#!/bin/sh
# The scanner itself, started in the background by start.sh: walks a tree
# breadth-first, counting directories and files, and checkpoints after every
# directory so that it can be stopped (SIGTERM) and resumed at any point.
#
# Checkpoint, in the work folder:
#   queue  every directory found so far, one per line, in visiting order
#   state  next= (queue line scanned next), qlen= (lines in the queue as of
#          this checkpoint), scanned=, files=
# state is replaced atomically (write, then rename) after the directory's
# children were appended to queue; a resume cuts queue back to qlen lines, so
# a scanner killed between the two steps never counts a directory twice.

here=$(cd "$(dirname "$0")" && pwd -P) || exit 3
# shellcheck source=examples/scan/common.sh
. "$here/common.sh"

delay=${SCAN_DELAY:-0.2}
nl='
'

log() {
    printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"
}

save_state() {
    printf 'next=%s\nqlen=%s\nscanned=%s\nfiles=%s\n' \
        "$next" "$qlen" "$scanned" "$files" >"$state_file.tmp" &&
        mv -f "$state_file.tmp" "$state_file"
}

stop=
trap 'stop=stopped' TERM
trap 'stop=interrupted' INT
trap '' HUP

mkdir -p "$work" || exit 1
printf '%s\n' "$$" >"$pid_file" || exit 1
rm -f "$reason_file"

if [ -f "$state_file" ]; then
    if ! load_state; then
        log "checkpoint $state_file is unreadable; not scanning"
        printf 'bad_checkpoint\n' >"$reason_file"
        rm -f "$pid_file"
        exit 1
    fi
    # Drop children appended after the last checkpoint (see above).
    head -n "$qlen" "$queue_file" >"$queue_file.tmp" &&
        mv -f "$queue_file.tmp" "$queue_file"
    log "resuming: $scanned dirs scanned, $((qlen - next + 1)) pending, $files files"
else
    # /usr/share exists on Linux and macOS, is readable by everyone, holds
    # thousands of folders (minutes of scanning at 0.2 s each) and changes
    # rarely; it is the fallback-free choice for a demo. Without it, the repo.
    root=${SCAN_ROOT:-/usr/share}
    [ -n "${SCAN_ROOT:-}" ] || [ -d "$root" ] || root=$repo
    if ! root=$(cd "$root" 2>/dev/null && pwd -P); then
        log "SCAN_ROOT ${SCAN_ROOT:-} is not a readable directory"
        printf 'bad_root\n' >"$reason_file"
        rm -f "$pid_file"
        exit 1
    fi
    printf '%s\n' "$root" >"$queue_file"
    next=1 qlen=1 scanned=0 files=0
    save_state
    log "starting a new scan of $root"
fi

# Nothing here needs the cwd; do not keep a folder busy.
cd / || exit 1

while [ -z "$stop" ] && [ "$next" -le "$qlen" ]; do
    dir=$(sed -n "${next}p" "$queue_file")
    added=0 found=0
    # The three patterns cover every entry, hidden ones too, but not . and ..
    # An unreadable folder or a pattern that matched nothing yields the
    # pattern itself, which the -e/-L tests drop.
    for entry in "$dir"/* "$dir"/.[!.]* "$dir"/..?*; do
        if [ -L "$entry" ]; then
            found=$((found + 1)) # never follow links: no loops, no escapes
        elif [ -d "$entry" ]; then
            case $entry in
            *"$nl"*)
                # The queue holds one path a line; such a folder is counted
                # as scanned but its contents are not walked.
                log "not walking a directory whose name holds a newline"
                scanned=$((scanned + 1))
                ;;
            *)
                printf '%s\n' "$entry" >>"$queue_file"
                added=$((added + 1))
                ;;
            esac
        elif [ -e "$entry" ]; then
            found=$((found + 1))
        fi
    done
    qlen=$((qlen + added))
    next=$((next + 1))
    scanned=$((scanned + 1))
    files=$((files + found))
    save_state
    [ -z "$stop" ] || break
    case $delay in
    0 | 0.0 | '') ;;
    *)
        # wait, unlike a foreground sleep, returns as soon as SIGTERM comes.
        sleep "$delay" &
        sleeper=$!
        wait "$sleeper"
        kill "$sleeper" 2>/dev/null
        ;;
    esac
done

if [ -n "$stop" ]; then
    printf '%s\n' "$stop" >"$reason_file"
    log "$stop: $scanned dirs scanned, $((qlen - next + 1)) pending, $files files"
else
    : >"$done_file"
    log "completed: $scanned dirs, $files files"
fi
rm -f "$pid_file"
