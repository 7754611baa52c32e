#!/bin/sh
# A one-shot WRITE job: copies the scanner's checkpoint (counters, queue, and
# the completion marker if the scan is done) into a tar archive. It writes
# only under the repo's target/, yet it is a write: ops-monitor runs it only
# through `run`, by a person, once approved; its `after` entry then queues
# checks/verify-archive.sh.
#   SCAN_WORK     the scanner's work folder (default <repo>/target/demo/scan)
#   ARCHIVE_FILE  the archive (default <repo>/target/demo/scan-archive.tar)

here=$(cd "$(dirname "$0")" && pwd -P) || exit 3
repo=$(cd "$here/../.." && pwd -P) || exit 3
work=${SCAN_WORK:-$repo/target/demo/scan}
archive=${ARCHIVE_FILE:-$repo/target/demo/scan-archive.tar}

if [ ! -f "$work/state" ]; then
    echo "nothing to archive: no scan checkpoint in $work (start the scan first)" >&2
    exit 1
fi
set -- state
[ ! -f "$work/queue" ] || set -- "$@" queue
[ ! -f "$work/done" ] || set -- "$@" 'done'
[ ! -f "$work/stop-reason" ] || set -- "$@" stop-reason

mkdir -p "$(dirname "$archive")" || exit 1
# Written aside, then renamed: the verification never sees half an archive.
tmp=$archive.tmp.$$
trap 'rm -f "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
tar -cf "$tmp" -C "$work" "$@" || exit 1
mv -f "$tmp" "$archive" || exit 1

if [ -f "$work/done" ]; then how="completed scan"; else how="scan in progress"; fi
size=$(wc -c <"$archive" | tr -d ' ')
echo "archived the checkpoint of a $how ($*) to $archive ($size bytes)"
