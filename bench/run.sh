#!/usr/bin/env bash
# Benchmark of `ops-monitor tick` (SPEC §5 step 6, issue "A tick that
# survives real life"). Run from anywhere; it works in the repo root:
#
#   bench/run.sh
#
# Builds the release binary, generates configs under target/bench/, measures
# each case with hyperfine (each with its own state file, created by one
# warm-up tick first), measures peak RSS with GNU time, and prints a markdown
# table of measured values beside the targets (also written to
# target/bench/results.md). Exit 0 when it measured everything (whether or not
# a target was met), 1 when it could not.
#
# Environment:
#   BENCH_BIN   use this ops-monitor binary instead of building the release one
#   BENCH_RUNS  least hyperfine runs per case (default 10)

set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$repo"
out=$repo/target/bench
runs=${BENCH_RUNS:-10}
parallel=16

say() { printf '%s\n' "$*" >&2; }
die() {
    say "bench: $*"
    exit 1
}

# --- tools -------------------------------------------------------------------

# Installs a Debian package when this is possible without asking anyone.
apt_install() {
    local pkg=$1 prefix=()
    command -v apt-get >/dev/null 2>&1 || return 1
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || return 1
        prefix=(sudo -n)
    fi
    say "bench: installing $pkg with apt-get"
    "${prefix[@]}" apt-get install -y "$pkg" >&2 ||
        { "${prefix[@]}" apt-get update >&2 && "${prefix[@]}" apt-get install -y "$pkg" >&2; }
}

if ! command -v hyperfine >/dev/null 2>&1; then
    apt_install hyperfine || true
    command -v hyperfine >/dev/null 2>&1 ||
        die "hyperfine is missing and could not be installed here (needs apt-get and root or passwordless sudo).
Install it yourself: apt-get install hyperfine, brew install hyperfine, or cargo install hyperfine."
fi
# Peak RSS comes from GNU time's %M (KiB); BSD/macOS time has no -f.
if ! /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
    apt_install time || true
    /usr/bin/time -f %M -o /dev/null true 2>/dev/null ||
        die "GNU time (/usr/bin/time -f) is missing and could not be installed: apt-get install time"
fi
for tool in seq xargs awk; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done

# --- the binary --------------------------------------------------------------

if [ -n "${BENCH_BIN:-}" ]; then
    bin=$BENCH_BIN
    say "bench: using BENCH_BIN=$bin (no build)"
else
    say "bench: cargo build --release --locked"
    cargo build --release --locked >&2 || die "the release build failed"
    bin=$repo/target/release/ops-monitor
fi
[ -x "$bin" ] || die "no executable at $bin"

# --- configs -----------------------------------------------------------------

rm -rf "$out"
mkdir -p "$out/home"
# Nothing may read or write the user's own OpenClaw home.
export OPENCLAW_HOME=$out/home
unset OPS_MONITOR_CONFIG OPS_MONITOR_STATE OPENCLAW_CONFIG_PATH

# The status each generated job prints: a running job with a little progress,
# the common case. The floor runs exactly this. The progress is the shell's
# pid, new on every run, so every job's progress changes on every tick and
# (with reportEverySeconds 0 and onlyOnChange on: "every progress change")
# every job is reported on every tick — the worst case.
status_json='{"running": true, "completed": false, "progress": {"done": '"'"'$$'"'"', "total": 10}}'
trivial_script="echo '$status_json'"
sleepy_script="sleep 0.1; echo '$status_json'"

# JSON string of a shell script ($1): escapes backslashes and double quotes.
json_string() {
    local s=${1//\\/\\\\}
    printf '"%s"' "${s//\"/\\\"}"
}

# gen_config FILE N SCRIPT: N enabled long_running_read jobs whose status runs
# SCRIPT with /bin/sh -c. Every job is reported on every tick (no quiet hours,
# no periodic interval, a report on every progress change, and the progress
# changes every run): the tick builds and prints its largest report, the
# worst case for a tick with nothing to start.
gen_config() {
    local file=$1 n=$2 script i sep=
    script=$(json_string "$3")
    {
        printf '{\n  "version": 1,\n'
        printf '  "defaults": {\n'
        printf '    "quietHours": {"start": "00:00", "end": "00:00"},\n'
        printf '    "autoResume": false\n'
        printf '  },\n  "jobs": [\n'
        for ((i = 1; i <= n; i++)); do
            printf '%s    {"id": "job-%04d", "kind": "long_running_read", "risk": "read_only", "enabled": true, "cwd": ".", ' "$sep" "$i"
            printf '"commands": {"start": ["/bin/true"], "status": ["/bin/sh", "-c", %s]}, ' "$script"
            printf '"policy": {"reportEverySeconds": 0, "onlyOnChange": true, "stallSeconds": 0}}'
            sep=$',\n'
        done
        printf '\n  ]\n}\n'
    } >"$file"
}

cases=(one jobs200 jobs1000 slow20)
gen_config "$out/one.json" 1 "$trivial_script"
gen_config "$out/jobs200.json" 200 "$trivial_script"
gen_config "$out/jobs1000.json" 1000 "$trivial_script"
gen_config "$out/slow20.json" 20 "$sleepy_script"

tick_args() { # CASE
    printf '%s\n' tick --print-only --parallel "$parallel" \
        --config-file "$out/$1.json" --state-file "$out/$1.state.json"
}

# The floor: the same 200 status commands, $parallel at a time, and nothing
# else. A tick cannot be faster than this; the target is how close it gets.
floor_cmd="seq 200 | xargs -P $parallel -n 1 /bin/sh -c $(printf '%q' "$trivial_script") >/dev/null"
hyperfine --shell sh --warmup 2 --min-runs "$runs" --command-name floor200 \
    --export-json "$out/floor200.hyperfine.json" --export-csv "$out/floor200.csv" "$floor_cmd" >&2 ||
    die "hyperfine failed on the floor"
say "bench: floor measured (target/bench/floor200.csv); now the ticks"

# --- timings -----------------------------------------------------------------

# One warm-up tick per case creates its state; a failing tick stops the bench
# here with its stderr rather than in the middle of hyperfine's output.
for c in "${cases[@]}"; do
    mapfile -t args < <(tick_args "$c")
    rc=0
    "$bin" "${args[@]}" >"$out/$c.warmup.out" 2>"$out/$c.warmup.err" || rc=$?
    if [ "$rc" -ne 0 ]; then
        say "bench: the warm-up tick of case $c failed (exit $rc): $bin ${args[*]}"
        say "--- stderr (last 20 lines) ---"
        tail -n 20 "$out/$c.warmup.err" >&2
        die "tick must work before it can be measured"
    fi
    [ -s "$out/$c.state.json" ] || die "the warm-up tick of case $c wrote no state file ($out/$c.state.json)"
done

# hyperfine without a shell (-N) for the ticks, so a shell's start-up is not
# counted against a 5 ms target; the floor needs one for its pipe.
for c in "${cases[@]}"; do
    mapfile -t args < <(tick_args "$c")
    cmd=$(printf '%q ' "$bin" "${args[@]}")
    hyperfine -N --warmup 2 --min-runs "$runs" --command-name "$c" \
        --export-json "$out/$c.hyperfine.json" --export-csv "$out/$c.csv" "$cmd" >&2 ||
        die "hyperfine failed on case $c"
done

mean_of() { # CASE -> mean seconds, from hyperfine's CSV (command,mean,...)
    awk -F, 'NR == 2 { print $2 }' "$out/$1.csv"
}

# --- memory and state size ---------------------------------------------------

peak_rss() { # CASE -> the largest peak RSS (KiB) of three ticks
    local best=0 kib i
    mapfile -t args < <(tick_args "$1")
    for i in 1 2 3; do
        /usr/bin/time -f %M -o "$out/$1.rss" "$bin" "${args[@]}" >/dev/null 2>&1 ||
            die "a tick of case $1 failed while measuring its memory"
        kib=$(tail -n 1 "$out/$1.rss")
        [ "$kib" -gt "$best" ] && best=$kib
    done
    echo "$best"
}
rss_one=$(peak_rss one)
rss_1000=$(peak_rss jobs1000)

bytes() { wc -c <"$1" | tr -d ' '; }
state_200=$(bytes "$out/jobs200.state.json")
state_1000=$(bytes "$out/jobs1000.state.json")

# --- the table ---------------------------------------------------------------

m_one=$(mean_of one)
m_200=$(mean_of jobs200)
m_1000=$(mean_of jobs1000)
m_slow=$(mean_of slow20)
m_floor=$(mean_of floor200)

# row NAME MEASURED TARGET MET (1, 0, or text shown as is)
row() {
    local met
    case $4 in 1) met=yes ;; 0) met="**no**" ;; *) met=$4 ;; esac
    printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$met"
}
# check EXPR: 1 when awk finds it true
check() { awk "BEGIN { print (($1) ? 1 : 0) }"; }
ms() { awk -v s="$1" 'BEGIN { printf "%.1f ms", s * 1000 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

version=$("$bin" --version 2>/dev/null || echo "ops-monitor (version unknown)")
cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')
{
    echo "# ops-monitor tick benchmark"
    echo
    echo "$version, $(uname -srm), $cpus CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ)."
    echo "Means of at least $runs runs (hyperfine); peak RSS the largest of 3 runs (GNU time);"
    echo "\`tick --print-only --parallel $parallel\`, every job reported every tick."
    echo
    echo "| case | measured | target | met |"
    echo "| --- | --- | --- | --- |"
    row "1 job: tick time" "$(ms "$m_one")" "≤ 5 ms" "$(check "$m_one <= 0.005")"
    row "1 job: peak RSS" "$(mib "$rss_one")" "≤ 8 MiB" "$(check "$rss_one <= 8192")"
    row "200 jobs: tick time" "$(ms "$m_200") ($(awk -v a="$m_200" -v b="$m_floor" 'BEGIN { printf "%.2f", a / b }')× the floor)" \
        "≤ 1.2× the floor" "$(check "$m_200 <= 1.2 * $m_floor")"
    row "floor: 200 status commands, $parallel at a time" "$(ms "$m_floor")" "—" "—"
    row "20 jobs, status sleeps 0.1 s: tick time" "$(ms "$m_slow")" "≤ 250 ms" "$(check "$m_slow <= 0.25")"
    row "1000 jobs: tick time" "$(ms "$m_1000")" "≤ 600 ms" "$(check "$m_1000 <= 0.6")"
    row "1000 jobs: peak RSS" "$(mib "$rss_1000")" "< 16 MiB" "$(check "$rss_1000 < 16384")"
    row "200 jobs: state per job" "$((state_200 / 200)) B ($state_200 B in all)" "< 400 B" "$(check "$state_200 / 200 < 400")"
    row "1000 jobs: state per job" "$((state_1000 / 1000)) B ($state_1000 B in all)" "< 400 B" "$(check "$state_1000 / 1000 < 400")"
} >"$out/results.md"

echo
cat "$out/results.md"
echo
echo "written to target/bench/results.md (hyperfine details: target/bench/*.hyperfine.json)"
