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
# Bounded: REQUESTS per path (default 60000, rounds of 3000), 60 s cap per phase, RUNS (default 1, at most 20).
# Needs a running engine and python:3.10-slim (scripts/setup-engine.sh). Removes every container it starts.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_runs
bench_repeat bench/GatewayOverhead -- "${REQUESTS:-60000}" "${CONCURRENCY:-4}"

summary() {
    overall=$(bench_ratios "$1" | cut -d' ' -f1 | bench_median 2)
    rounds=$(bench_ratios "$1" | cut -d' ' -f2 | bench_median 2)
    met=$(bench_ratios "$1" | awk '$1 >= 0.85 { n++ } END { print n + 0 }')
    target=""
    if [ "${3:-}" = target ]; then target="; >= 0.85x overall in $met of $runs"; fi
    echo "$2: median of $runs runs ${overall}x overall, ${rounds}x median round (runs $(bench_range "$1")$target)"
}
summary "throughput ratio" "gateway" target
summary "grpc ingress ratio" "gRPC ingress (gRPC caller → gateway → REST model)"
if grep -q "^reference: nginx" "$bench_out"; then summary "reference: nginx" "nginx (reference)" target; fi
summary "noise" "control (direct against itself)"
