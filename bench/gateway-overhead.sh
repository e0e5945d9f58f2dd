#!/bin/sh
# Gateway overhead: one echo model, the same container called directly (inside its network namespace, as its node
# reaches it), through its node's job API, and through the gateway (here through the node's job API: the bench does not
# attach its node to the gateway's LocalNodes), a gRPC caller through the gateway's V2 ingress to the same REST model
# (grpc-gw, its ratio also against direct REST), and, where nginx is installed, through nginx (run in the container's namespace) as
# a plain reverse proxy (the reference: what one hop costs on this machine at best); prints req/s, p50, p99, CPU per request
# and the ratios, after a warm-up of 15-60 s. 20 rounds, each path in turn (in reverse order every other round), plus a
# control: the direct path again, whose ratio to itself shows what this machine's noise alone does to a ratio.
# A single run's ratio is good to about ±0.1 on a shared 2-CPU VM: RUNS=N runs it N times, each with a fresh container,
# and ends with the median of the runs' ratios.
# Bounded: REQUESTS per path (default 18000), 60 s cap per phase, RUNS (default 1, at most 20).
# Needs a running engine and python:3.10-slim (scripts/setup-engine.sh). Removes every container it starts.
set -eu
cd "$(dirname "$0")/.."
runs=${RUNS:-1}
case "$runs" in '' | *[!0-9]*) echo "RUNS must be a whole number from 1 to 20, not '$runs'" >&2; exit 2 ;; esac
if [ "$runs" -lt 1 ] || [ "$runs" -gt 20 ]; then echo "RUNS must be from 1 to 20, not $runs" >&2; exit 2; fi
if [ "$runs" -eq 1 ]; then
    exec dotnet run -c Release --project bench/GatewayOverhead -- "${REQUESTS:-18000}" "${CONCURRENCY:-4}"
fi

dotnet build -c Release bench/GatewayOverhead -v q -nologo > /dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
i=1
while [ "$i" -le "$runs" ]; do
    echo "== run $i of $runs"
    dotnet run -c Release --no-build --project bench/GatewayOverhead -- "${REQUESTS:-18000}" "${CONCURRENCY:-4}" | tee -a "$out"
    i=$((i + 1))
done

# Lines "<what> 0.88x overall, 0.89x median of 20 rounds ...": field 1 is a run's overall ratio, field 2 its median round.
ratios() { grep "^$1" "$out" | sed -E 's/^[^0-9]*([0-9.]+)x overall, ([0-9.]+)x median.*/\1 \2/'; }
# The median of one column of numbers on stdin.
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
summary() {
    overall=$(ratios "$1" | cut -d' ' -f1 | median)
    rounds=$(ratios "$1" | cut -d' ' -f2 | median)
    met=$(ratios "$1" | awk '$1 >= 0.85 { n++ } END { print n + 0 }')
    range=$(ratios "$1" | cut -d' ' -f1 | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2fx-%.2fx", lo, hi }')
    target=""
    if [ "${3:-}" = target ]; then target="; >= 0.85x overall in $met of $runs"; fi
    echo "$2: median of $runs runs ${overall}x overall, ${rounds}x median round (runs $range$target)"
}
echo "== over $runs runs"
summary "throughput ratio" "gateway" target
summary "grpc ingress ratio" "gRPC ingress (gRPC caller → gateway → REST model)"
if grep -q "^reference: nginx" "$out"; then summary "reference: nginx" "nginx (reference)" target; fi
summary "noise" "control (direct against itself)"
