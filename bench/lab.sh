#!/usr/bin/env bash
# Lab numbers (#16), in the lab of scripts/lab.sh (3 node hosts, 2 gateways, each its own network namespace):
#   1. one hop across hosts: summarizer-v1 called through gateway 2 (client on this machine → gateway host → node
#      host → container) against the same request sent straight to the model from its node's host (a connection made
#      inside the container's network namespace, as the node makes them). Rounds alternate the order; the ratio and the
#      p50 added are per round, then the median.
#   2. failover: a node host serving the model is cut off (its link down at the switch) while requests flow; from the
#      gateways' own state: cut → found offline (offlineSince) and the last job either gateway sent it (lastJob).
# Environment: REQUESTS per path and round (default 2000), CONCURRENCY (4), ROUNDS (4), LAB_DIR (as lab.sh), INFRA.
# Leaves nothing: the lab is taken down at the end, whatever happens.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
requests="${REQUESTS:-2000}"
concurrency="${CONCURRENCY:-4}"
rounds="${ROUNDS:-4}"
trap 'bash scripts/lab.sh down > /dev/null' EXIT

lab=$(bash scripts/lab.sh up 3 | tail -n 1)
# Gateways speak TLS with self-signed certificates (the default off loopback): pinned by their tlsFingerprint.
gateway() { python3 -c 'import json,sys; g=json.loads(sys.argv[1])["gateways"][int(sys.argv[2])]; print(g["url"] + "#" + g["tlsFingerprint"])' "$lab" "$1"; }
gw=$(gateway 1); gw1=$(gateway 0)
pin_of() { python3 -c 'import base64,sys; print(base64.b64encode(bytes.fromhex(sys.argv[1].split("#sha256:")[1])).decode())' "$1"; }
state() { curl -s --noproxy '*' --max-time 2 -k --pinnedpubkey "sha256//$(pin_of "$1")" "${1%%#*}inference/v1"; }
node=$(state "$gw" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sorted(n["node"] for m in d["models"] for v in m["versions"] for n in v["nodes"] if n["state"]=="ready")[0])')
container=$(docker ps -q --filter "label=org.inframind.node=$node" --filter "label=org.inframind.model=summarizer-v1@0.4.2" | head -n 1)
pid=$(docker inspect -f '{{.State.Pid}}' "$container")
echo "gateway $gw; direct: the model's container on $node (PID $pid), port 9000 in its own network namespace"

direct() { nsenter -t "$pid" -n python3 bench/lab_load.py http://127.0.0.1:9000/ "$1" "$concurrency"; }
through() { python3 bench/lab_load.py "${gw%%#*}inference/v1/summarizer-v1#${gw#*#}" "$1" "$concurrency"; }
direct 300 > /dev/null; through 300 > /dev/null   # warm-up
results=()
for r in $(seq "$rounds"); do
  if [ $((r % 2)) = 1 ]; then d=$(direct "$requests"); g=$(through "$requests"); else g=$(through "$requests"); d=$(direct "$requests"); fi
  echo "round $r: direct $d"
  echo "round $r: gateway $g"
  results+=("$d|$g")
done
printf '%s\n' "${results[@]}" | python3 -c '
import json, statistics, sys
rows = [tuple(json.loads(part) for part in line.split("|")) for line in sys.stdin if line.strip()]
ratio = [g["rps"] / d["rps"] for d, g in rows]
added = [g["p50_ms"] - d["p50_ms"] for d, g in rows]
print("summary: direct %.0f req/s, through the gateway %.0f req/s (medians); ratio %.2fx (rounds %s); p50 added %.2f ms (rounds %s)" % (
    statistics.median(d["rps"] for d, _ in rows), statistics.median(g["rps"] for _, g in rows), statistics.median(ratio),
    ", ".join("%.2f" % x for x in ratio), statistics.median(added), ", ".join("%.2f" % x for x in added)))'

# Failover: requests keep flowing through both gateways while $node's link is cut.
python3 bench/lab_load.py "${gw%%#*}inference/v1/summarizer-v1#${gw#*#}" 3000 2 > /tmp/lab-bench-load.$$ &
load=$!
sleep 1
cut_at=$(python3 -c 'import datetime; print(datetime.datetime.now(datetime.timezone.utc).isoformat())')
bash scripts/lab.sh cut "$node"
sleep 3
for g in "$gw1" "$gw"; do
  state "$g" | python3 -c '
import datetime, json, sys
cut = datetime.datetime.fromisoformat(sys.argv[1]); d = json.load(sys.stdin)
n = next(n for n in d["nodes"] if n["id"] == sys.argv[2])
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")) if s else None
off, last = t(n["offlineSince"]), t(n["lastJob"])
print("failover at %s: %s cut, found offline after %.0f ms, last job %s" % (sys.argv[3], sys.argv[2], (off - cut).total_seconds() * 1000 if off else float("nan"),
      "%.0f ms after the cut (%.0f ms before detection)" % ((last - cut).total_seconds() * 1000, (off - last).total_seconds() * 1000) if last and off else last))' "$cut_at" "$node" "$g"
done
wait "$load"
echo "load during the cut: $(cat /tmp/lab-bench-load.$$)"
rm -f /tmp/lab-bench-load.$$
