#!/usr/bin/env bash
# A client burst against a live mesh (not run by CI): `infra mesh up` with 2 nodes serving summarizer-v1 (the REST
# example, a Python ThreadingHTTPServer), then BURST requests at once (default 150), each a valid input of SIZE bytes
# (default 1 MiB), sent by one client on 127.0.0.1. Prints how the requests ended (status and code) and what the burst
# cost the nodes: suspensions, failures by verdict, and whether the model still answers right after. The claim it
# checks: a client cannot take a model offline — a burst is answered or refused as busy (503 IM6038, Retry-After), and
# no honest node is suspended or restarted for it.
# Environment: BURST, SIZE, PORT (default 18080), INFRA (default: the repo's build). Leaves nothing: the mesh is
# stopped by its PID and the temporary home removed, whatever happens.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
burst="${BURST:-150}"
size="${SIZE:-1048576}"
port="${PORT:-18080}"
work="$(mktemp -d)"
export INFRAMIND_HOME="$work/home"
mesh_pid=""
cleanup() {
  if [ -n "$mesh_pid" ] && kill -0 "$mesh_pid" 2>/dev/null; then kill -TERM "$mesh_pid"; wait "$mesh_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
bash scripts/setup-engine.sh > /dev/null
"$root/infra" --version > /dev/null
infra="${INFRA:-$root/.build/infra/infra}"

"$infra" build examples/summarizer-v1 > /dev/null
reference=$("$infra" push --image summarizer-v1:0.4.2 --to local --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["reference"])')
"$infra" keys generate --name deployer > /dev/null
"$infra" mesh up --nodes 2 --port "$port" --registry-port 0 > "$work/mesh.log" 2>&1 &
mesh_pid=$!
for _ in $(seq 150); do grep -q "mesh up" "$work/mesh.log" && break; sleep 0.2; done
"$infra" publish --model examples/summarizer-v1/model.yaml --image "$reference" --key deployer > /dev/null
ready() { curl -sf "http://127.0.0.1:$port/inference/v1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(n["state"]=="ready" for m in d["models"] if m["name"]=="summarizer-v1" for v in m["versions"] for n in v["nodes"]))'; }
for _ in $(seq 240); do [ "$(ready 2>/dev/null || echo 0)" = 2 ] && break; sleep 0.5; done
echo "mesh up on :$port, summarizer-v1 ready on $(ready) node(s); burst of $burst requests of $size bytes"

python3 - "$port" "$burst" "$size" <<'PY'
import collections, json, sys, threading, time, urllib.request, urllib.error
port, burst, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
body = json.dumps({"text": "x" * (size - 12)}).encode()
results, lock, start = collections.Counter(), threading.Lock(), threading.Barrier(burst)
def one():
    start.wait()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/inference/v1/summarizer-v1", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            key = f"{r.status}"
    except urllib.error.HTTPError as e:
        try: code = json.loads(e.read()).get("code", "")
        except Exception: code = ""
        key = f"{e.code} {code}"
    except Exception as e:
        key = f"client error {type(e).__name__}"
    with lock: results[key] += 1
t0 = time.monotonic()
threads = [threading.Thread(target=one) for _ in range(burst)]
for t in threads: t.start()
for t in threads: t.join()
print(f"burst over in {time.monotonic() - t0:.1f} s:", ", ".join(f"{k}: {v}" for k, v in sorted(results.items())))
PY

metrics=$(curl -s "http://127.0.0.1:$port/metrics")
echo "suspensions: $(grep -c '^inframind_gateway_suspensions_total{' <<< "$metrics" || true) series, $(grep '^inframind_gateway_suspensions_total{' <<< "$metrics" | awk '{s+=$2} END {print s+0}') in all"
echo "failed attempts by verdict:"; grep '^inframind_gateway_failures_total{' <<< "$metrics" | sed 's/^/  /' || echo "  none"
echo "nodes after the burst: $(curl -s "http://127.0.0.1:$port/inference/v1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(", ".join(n["node"] + ": " + n["state"] + " (restarts " + str(n.get("restarts", "?")) + ")" for m in d["models"] for v in m["versions"] for n in v["nodes"]))')"
after=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/inference/v1/summarizer-v1" -H 'Content-Type: application/json' -d '{"text": "after the burst"}')
echo "a request right after the burst: $after"
