#!/bin/sh
# The read-only verification that follows the archive write job (its `after`
# entry): the archive exists, is not empty, is a readable tar and holds the
# scan's checkpoint. Exit 0 with an OK line, else 2 with an ALERT line.
#   ARCHIVE_FILE  the archive (default <repo>/target/demo/scan-archive.tar)

here=$(cd "$(dirname "$0")" && pwd -P) || exit 3
repo=$(cd "$here/../.." && pwd -P) || exit 3
archive=${ARCHIVE_FILE:-$repo/target/demo/scan-archive.tar}

if [ ! -f "$archive" ]; then
    echo "ALERT: archive missing: $archive"
    exit 2
fi
if [ ! -s "$archive" ]; then
    echo "ALERT: archive is empty: $archive"
    exit 2
fi
if ! list=$(tar -tf "$archive" 2>&1); then
    echo "ALERT: archive is not a readable tar: $archive"
    exit 2
fi
case $list in
state* | *"
state"* | ./state* | *"
./state"*) ;;
*)
    echo "ALERT: archive holds no scan checkpoint (state): $archive"
    exit 2
    ;;
esac
size=$(wc -c <"$archive" | tr -d ' ')
echo "OK: archive $archive ($size bytes) holds the scan checkpoint"
