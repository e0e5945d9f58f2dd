#!/bin/sh
# gRPC gateway overhead (#14): one gRPC echo model (bench/GrpcOverheadHost/echo-grpc-model, a Python grpcio V2 server
# in a container) served as `infra mesh up` serves it, by bench/GrpcOverheadHost in a process of its own (with no keys
# unless RECEIPTS=1; the node in the gateway's process, jobs sent straight to the container over h2c); the callers are
# this bench's process. One run measures, in 20 interleaved rounds: direct gRPC to the container (the baseline),
# REST → gateway → gRPC model (rest-gw), gRPC → the gateway's V2 ingress → gRPC model (grpc-gw), the floor (gRPC →
# a bare grpc-dotnet proxy in the gateway's process that forwards the message as it came, nothing else → gRPC model:
# the stacks the gateway is built on, without the gateway, so the most any gateway on them reaches on this machine),
# and a control (the direct path again: what this machine's noise alone does to a ratio); then one request at a time,
# in interleaved rounds as well, for the p50 a hop adds. Prints req/s, p50, p99, CPU per request of the callers, the
# gateway's process and the model container (with the model's wake-ups and TCP segments per request), the ratios
# against direct (targets: ≥ 0.85x, added p50 ≤ 0.3 ms) and the load average. RUNS=N runs it N times, each with a
# fresh container, and ends with the median of the runs' ratios.
# Bounded: REQUESTS per path (default 40000, rounds of 2000), 60 s cap per phase, RUNS (default 1, at most 20).
# RECEIPTS=1 gives the gateway and the node keys, as `infra mesh up` does: every answer through the gateway is signed
# (the run checks that it carries a receipt). Default: no keys, the gateway's own overhead alone.
# Needs a running engine and python:3.10-slim with grpcio (scripts/setup-engine.sh). Removes every container it starts.
# GATEWAY_ENV="NAME=VALUE ...": environment variables for the gateway's process alone (a runtime setting tried on the
# gateway without changing the callers, e.g. GATEWAY_ENV=DOTNET_GCgen0size=0x4000000); said in the run's header.
# PIN=1: the callers and the model container on CPU 0, the gateway's process on CPU 1 (a gateway with a CPU of its own,
# as on a host of its own); the whole script then runs under `taskset -c 0`. Needs 2 CPUs or more.
set -eu
if [ "${PIN:-0}" = 1 ] && [ -z "${BENCH_PINNED:-}" ]; then
    export BENCH_PINNED=1
    exec taskset -c 0 sh "$0" "$@"
fi
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_runs
bench_repeat bench/GrpcOverhead -- "${REQUESTS:-40000}" "${CONCURRENCY:-4}"

# Lines "one at a time: direct p50 … rest-gw p50 … ms: +0.147 ms; grpc-gw p50 … ms: +0.123 ms": the added p50s.
added() { grep "^one at a time" "$bench_out" | sed -E "s/.*$1 p50 [0-9.]+ ms: ([-+0-9.]+) ms.*/\\1/"; }
summary() {
    overall=$(bench_ratios "$1 ratio" | cut -d' ' -f1 | bench_median 3)
    rounds=$(bench_ratios "$1 ratio" | cut -d' ' -f2 | bench_median 3)
    echo "$2: median of $runs runs ${overall}x overall, ${rounds}x median round (runs $(bench_range "$1 ratio"))${3:-}"
}
summary rest-gw "REST → gateway → gRPC model" "; added p50 one at a time, median: $(added rest-gw | bench_median 3) ms"
summary grpc-gw "gRPC → gateway → gRPC model" "; added p50 one at a time, median: $(added grpc-gw | bench_median 3) ms"
summary floor "floor: gRPC → a bare grpc-dotnet proxy → gRPC model (the most a gateway on these stacks reaches here)" "; added p50 one at a time, median: $(added floor | bench_median 3) ms"
summary control "control (direct against itself)"
