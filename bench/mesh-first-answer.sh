#!/usr/bin/env bash
# The embedded default's time to first answer: `infra mesh up` (2 nodes), then `infra publish` of examples/summarizer-v1
# whose image is already in the local content store, then POST /inference/v1/summarizer-v1 every 20 ms until the first
# 200 — with the real CLI as a user runs it, each run in a fresh INFRAMIND_HOME (the content store copied in).
# Prints, per run and as medians with their range: mesh up (start → its "mesh up" line), publish (the command's own
# time), seen (publish exited → the version listed by GET /inference/v1), ready (→ a node reports it ready), answer
# (→ the first 200), and total (mesh up started → first 200). Target (#16): total ≤ 2 s.
#   RUNS=5 bash bench/mesh-first-answer.sh   (RUNS: 1-10, default 5)
# Needs a running engine and python:3.10-slim (scripts/setup-engine.sh). Each mesh is stopped by its PID and removes
# its containers.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs="${RUNS:-5}"
case "$runs" in '' | *[!0-9]*) echo "RUNS must be a whole number from 1 to 10, not '$runs'" >&2; exit 2 ;; esac
if [ "$runs" -lt 1 ] || [ "$runs" -gt 10 ]; then echo "RUNS must be from 1 to 10, not $runs" >&2; exit 2; fi
"$root/infra" --version >/dev/null   # builds the CLI once when sources changed
infra="$root/.build/infra/infra"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
work="$(mktemp -d)"
mesh_pid=""
cleanup() {
  if [ -n "$mesh_pid" ] && kill -0 "$mesh_pid" 2>/dev/null; then kill -TERM "$mesh_pid"; wait "$mesh_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Once: the image built and pushed into a template home, with a publishing key.
template="$work/template"
INFRAMIND_HOME="$template" "$infra" build examples/summarizer-v1 >/dev/null
reference="$(INFRAMIND_HOME="$template" "$infra" push --image summarizer-v1:0.4.2 --to local --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["reference"])')"
INFRAMIND_HOME="$template" "$infra" keys generate --name bench >/dev/null
echo "image in the local store: $reference; load $(cut -d' ' -f1 /proc/loadavg), $(nproc) CPUs"
printf '%-4s %10s %10s %8s %8s %8s %8s\n' run "mesh up" publish seen ready answer total

state() { curl -s "${gateway}inference/v1" 2>/dev/null || true; }
for i in $(seq "$runs"); do
  home="$work/home-$i"
  cp -a "$template" "$home"
  log="$work/mesh-$i.log"
  t0="$(now_ms)"
  INFRAMIND_HOME="$home" "$infra" mesh up --nodes 2 --port 0 --registry-port 0 >"$log" 2>&1 &
  mesh_pid=$!
  for _ in $(seq 600); do grep -q "mesh up" "$log" && break; sleep 0.01; done
  grep -q "mesh up" "$log" || { cat "$log"; exit 1; }
  t_up="$(now_ms)"
  gateway="$(cat "$home/run/gateway.url")"
  INFRAMIND_HOME="$home" "$infra" publish --model examples/summarizer-v1/model.yaml --image "$reference" --key bench >/dev/null
  t_pub="$(now_ms)"
  t_seen=""; t_ready=""; code=""
  for _ in $(seq 6000); do
    if [ -z "$t_seen" ] || [ -z "$t_ready" ]; then
      s="$(state)"
      if [ -z "$t_seen" ] && printf '%s' "$s" | grep -q '"summarizer-v1"'; then t_seen="$(now_ms)"; fi
      if [ -z "$t_ready" ] && printf '%s' "$s" | grep -q '"state":"ready"'; then t_ready="$(now_ms)"; fi
    fi
    code="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' \
      -d '{"text": "InfraMind packages a model as an OCI image and serves it on a mesh."}' "${gateway}inference/v1/summarizer-v1" || true)"
    [ "$code" = 200 ] && break
    sleep 0.02
  done
  t_200="$(now_ms)"
  [ "$code" = 200 ] || { echo "run $i: no 200 within 2 minutes (last $code)"; cat "$log"; exit 1; }
  t_seen="${t_seen:-$t_200}"; t_ready="${t_ready:-$t_200}"
  row="$((t_up - t0)) $((t_pub - t_up)) $((t_seen - t_pub)) $((t_ready - t_seen)) $((t_200 - t_ready)) $((t_200 - t0))"
  echo "$row" >>"$work/rows"
  # shellcheck disable=SC2086 # the row's numbers, one per word
  printf '%-4s %8s ms %7s ms %5s ms %5s ms %5s ms %5s ms\n' "$i" $row
  kill -TERM "$mesh_pid"; wait "$mesh_pid" 2>/dev/null || true; mesh_pid=""
done
echo
python3 - "$work/rows" <<'PY'
import statistics, sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1])]
names = ["mesh up", "publish", "seen", "ready", "answer", "total"]
cols = list(zip(*rows))
print("median (range) of %d runs: " % len(rows) + ", ".join("%s %d ms (%d-%d)" % (n, statistics.median(c), min(c), max(c)) for n, c in zip(names, cols)))
print("publish -> first 200: %d ms median; target for total: <= 2000 ms" % statistics.median([r[2] + r[3] + r[4] for r in rows]))
PY
