#!/bin/sh
# gRPC gateway overhead (#14): one gRPC echo model (bench/GrpcOverhead/echo-grpc-model, a Python grpcio V2 server in a
# container) served as `infra mesh up` serves it (the node in the gateway's process, jobs sent straight to the
# container over h2c). One run measures, in 20 interleaved rounds: direct gRPC to the container (the baseline),
# REST → gateway → gRPC model (rest-gw), gRPC → the gateway's V2 ingress → gRPC model (grpc-gw), and a control (the
# direct path again: what this machine's noise alone does to a ratio); then one request at a time for the p50 a hop
# adds. Prints req/s, p50, p99, CPU per request, the ratios against direct (targets: ≥ 0.85x, added p50 ≤ 0.3 ms) and
# the load average. RUNS=N runs it N times, each with a fresh container, and ends with the median of the runs' ratios.
# Bounded: REQUESTS per path (default 12000), 60 s cap per phase, RUNS (default 1, at most 20).
# Needs a running engine and python:3.10-slim with grpcio (scripts/setup-engine.sh). Removes every container it starts.
set -eu
cd "$(dirname "$0")/.."
runs=${RUNS:-1}
case "$runs" in '' | *[!0-9]*) echo "RUNS must be a whole number from 1 to 20, not '$runs'" >&2; exit 2 ;; esac
if [ "$runs" -lt 1 ] || [ "$runs" -gt 20 ]; then echo "RUNS must be from 1 to 20, not $runs" >&2; exit 2; fi
if [ "$runs" -eq 1 ]; then
    exec dotnet run -c Release --project bench/GrpcOverhead -- "${REQUESTS:-12000}" "${CONCURRENCY:-4}"
fi

dotnet build -c Release bench/GrpcOverhead -v q -nologo > /dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
i=1
while [ "$i" -le "$runs" ]; do
    echo "== run $i of $runs"
    dotnet run -c Release --no-build --project bench/GrpcOverhead -- "${REQUESTS:-12000}" "${CONCURRENCY:-4}" | tee -a "$out"
    i=$((i + 1))
done

# Lines "<path> ratio 0.88x overall, 0.89x median of 20 rounds ...": field 1 is a run's overall ratio, field 2 its median round.
ratios() { grep "^$1 ratio" "$out" | sed -E 's/^[^0-9]*([0-9.]+)x overall, ([0-9.]+)x median.*/\1 \2/'; }
# Lines "one at a time: direct p50 … rest-gw p50 … ms: +0.147 ms; grpc-gw p50 … ms: +0.123 ms": the added p50s.
added() { grep "^one at a time" "$out" | sed -E "s/.*$1 p50 [0-9.]+ ms: ([-+0-9.]+) ms.*/\\1/"; }
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
summary() {
    overall=$(ratios "$1" | cut -d' ' -f1 | median)
    rounds=$(ratios "$1" | cut -d' ' -f2 | median)
    range=$(ratios "$1" | cut -d' ' -f1 | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2fx-%.2fx", lo, hi }')
    echo "$2: median of $runs runs ${overall}x overall, ${rounds}x median round (runs $range)${3:-}"
}
echo "== over $runs runs"
summary rest-gw "REST → gateway → gRPC model" "; added p50 one at a time, median: $(added rest-gw | median) ms"
summary grpc-gw "gRPC → gateway → gRPC model" "; added p50 one at a time, median: $(added grpc-gw | median) ms"
summary control "control (direct against itself)"
