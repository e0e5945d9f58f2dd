#!/bin/sh
# What the gateway benches' shell wrappers share (sourced by gateway-overhead.sh and grpc-overhead.sh, POSIX sh):
# RUNS read and bounded, the project run RUNS times (each run a fresh process and container) with its output kept, and
# the median and range of a ratio over the runs.
#
#   . bench/lib.sh
#   bench_runs                             # $runs from RUNS (default 1, 1-20), or exit 2 with why
#   bench_repeat bench/X -- ARGS...        # runs == 1: exec the bench; else RUNS runs, their output in $bench_out
#   bench_ratios "rest-gw ratio"           # of each run's line "<prefix> 0.88x overall, 0.89x median ...": "0.88 0.89"
#   ... | bench_median 2                   # the median of a column of numbers, to 2 decimals

bench_runs() {
    runs=${RUNS:-1}
    case "$runs" in '' | *[!0-9]*) echo "RUNS must be a whole number from 1 to 20, not '$runs'" >&2; exit 2 ;; esac
    if [ "$runs" -lt 1 ] || [ "$runs" -gt 20 ]; then echo "RUNS must be from 1 to 20, not $runs" >&2; exit 2; fi
}

# A single run replaces the shell (its output as it comes, its exit status the script's); several runs are built once
# and their output collected in $bench_out (removed when the script exits).
bench_repeat() {
    project=$1
    shift 2
    if [ "$runs" -eq 1 ]; then exec dotnet run -c Release --project "$project" -- "$@"; fi
    dotnet build -c Release "$project" -v q -nologo > /dev/null
    bench_out=$(mktemp)
    trap 'rm -f "$bench_out"' EXIT
    i=1
    while [ "$i" -le "$runs" ]; do
        echo "== run $i of $runs"
        # POSIX sh has no pipefail: the run's status comes back through a file, so a failed run stops the script
        # instead of leaving ratios of 0 in the summary.
        status_file=$(mktemp)
        { rc=0; dotnet run -c Release --no-build --project "$project" -- "$@" || rc=$?; echo "$rc" > "$status_file"; } | tee -a "$bench_out"
        status=$(cat "$status_file")
        rm -f "$status_file"
        if [ "$status" -ne 0 ]; then echo "run $i of $runs failed (exit $status): no summary" >&2; exit "$status"; fi
        i=$((i + 1))
    done
    echo "== over $runs runs"
}

# Field 1: a run's overall ratio; field 2: the median of its rounds.
bench_ratios() { grep "^$1" "$bench_out" | sed -E 's/^[^0-9]*([0-9.]+)x overall, ([0-9.]+)x median.*/\1 \2/'; }

bench_median() { sort -n | awk -v d="${1:-2}" '{ v[NR] = $1 } END { printf "%." d "f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# "0.71x-0.93x": the lowest and highest overall ratio of the runs.
bench_range() { bench_ratios "$1" | cut -d' ' -f1 | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2fx-%.2fx", lo, hi }'; }
