#!/bin/sh
# Gateway overhead: one echo model, the same container called directly, through its node's job API, and through the
# gateway (which sends a local node's jobs straight to the container) and, where nginx is installed, through nginx as a
# plain reverse proxy (the reference: what one hop costs on this machine at best); prints req/s, p50, p99, CPU per request
# and the ratios, after a warm-up of 15-60 s. 20 rounds, each path in turn (in reverse order every other round), plus a
# control: the direct path again, whose ratio to itself shows what this machine's noise alone does to a ratio.
# Bounded: REQUESTS per path (default 18000), 60 s cap per phase.
# Needs a running engine and python:3.10-slim (scripts/setup-engine.sh). Removes every container it starts.
set -eu
cd "$(dirname "$0")/.."
exec dotnet run -c Release --project bench/GatewayOverhead -- "${REQUESTS:-18000}" "${CONCURRENCY:-4}"
