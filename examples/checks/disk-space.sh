#!/bin/sh
# A one-shot read check: how full is the filesystem holding $DISK_PATH
# (default ".", the job's cwd)? Nagios-style exit codes, which ops-monitor
# reports as such: 0 OK, 1 WARNING, 2 CRITICAL (the line starts with ALERT, so
# the report carries it), 3 UNKNOWN.
#   DISK_ALERT_PERCENT  used% above which it alerts (default 95)
#   DISK_WARN_PERCENT   used% above which it warns (default 90)

alert=${DISK_ALERT_PERCENT:-95}
warn=${DISK_WARN_PERCENT:-90}
path=${DISK_PATH:-.}

for n in "$alert" "$warn"; do
    case $n in
    '' | *[!0-9]*)
        echo "UNKNOWN: DISK_ALERT_PERCENT and DISK_WARN_PERCENT must be whole numbers"
        exit 3
        ;;
    esac
done

# -P: one line per filesystem, fixed columns, on GNU, BSD and macOS alike.
if ! out=$(df -P "$path" 2>&1); then
    echo "UNKNOWN: df -P $path failed: $out"
    exit 3
fi
# The capacity column is the first field like "87%"; the filesystem's name
# may hold spaces (macOS "map auto_home"), so it is found, not counted.
used=$(printf '%s\n' "$out" | awk 'NR == 2 {
    for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+%$/) { sub(/%/, "", $i); print $i; exit }
}')
mount=$(printf '%s\n' "$out" | awk 'NR == 2 {
    for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+%$/) break
    m = ""; for (i = i + 1; i <= NF; i++) m = m (m == "" ? "" : " ") $i; print m
}')
if [ -z "$used" ]; then
    echo "UNKNOWN: could not read the capacity from df -P"
    exit 3
fi

if [ "$used" -gt "$alert" ]; then
    echo "ALERT: disk ${used}% full on $mount (alert above ${alert}%)"
    exit 2
fi
if [ "$used" -gt "$warn" ]; then
    echo "WARNING: disk ${used}% full on $mount (warning above ${warn}%)"
    exit 1
fi
echo "OK: disk ${used}% full on $mount (alert above ${alert}%)"
