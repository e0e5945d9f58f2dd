#!/usr/bin/env bash
# The main job: SPEC.md's whole flow on the embedded defaults, on this machine.
#   engine set-up → validate → infra test → push (local content store, and IPFS when INFRAMIND_IPFS_API names a
#   node) → signing key → mesh up (registry + gateway + 2 nodes) → publish, signed → POST /inference/v1/summarizer-v1
#   with SPEC.md's example input → verify → mesh down (containers removed).
# Environment: PORT (gateway, default 8080), INFRAMIND_HOME (default: a fresh temporary one), INFRAMIND_IPFS_API.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
port="${PORT:-8080}"
work="$(mktemp -d)"
export INFRAMIND_HOME="${INFRAMIND_HOME:-$work/home}"
mesh_pid=""
cleanup() {
  if [ -n "$mesh_pid" ] && kill -0 "$mesh_pid" 2>/dev/null; then
    kill -TERM "$mesh_pid"
    wait "$mesh_pid" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "0. container engine and base image"
bash scripts/setup-engine.sh
"$root/infra" --version >/dev/null   # builds the CLI once when sources changed
infra="$root/.build/infra/infra"

step "1. validate examples/summarizer-v1 (SPEC.md's package)"
"$infra" validate examples/summarizer-v1

step "2. infra test --container examples/summarizer-v1"
"$infra" test --container examples/summarizer-v1

step "3. push the image to content-addressed storage"
reference=$("$infra" push --image summarizer-v1:0.4.2 --to local --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["reference"])')
echo "local content store: $reference"
images=(--image "$reference")
if [ -n "${INFRAMIND_IPFS_API:-}" ]; then
  ipfs_ref=$("$infra" push --image summarizer-v1:0.4.2 --to "ipfs://${INFRAMIND_IPFS_API#*://}" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["reference"])')
  echo "IPFS: $ipfs_ref"
  images+=(--image "$ipfs_ref")
fi

step "4. the deployer's signing key"
"$infra" keys generate --name deployer

step "5. infra mesh up: registry + gateway + 2 node agents on 127.0.0.1"
"$infra" mesh up --nodes 2 --port "$port" --registry-port 0 > "$work/mesh.log" 2>&1 &
mesh_pid=$!
for _ in $(seq 150); do
  grep -q "mesh up" "$work/mesh.log" && break
  kill -0 "$mesh_pid" 2>/dev/null || { cat "$work/mesh.log"; exit 1; }
  sleep 0.2
done
cat "$work/mesh.log"

step "6. infra publish --model model.yaml --image $reference (signed, appended to the registry's log)"
"$infra" publish --model examples/summarizer-v1/model.yaml "${images[@]}" --key deployer

step "7. the endpoint is available: the nodes verify, pull, pre-flight, then serve"
for _ in $(seq 120); do
  if curl -sf "http://127.0.0.1:$port/inference/v1" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if any(n["state"]=="ready" for m in d["models"] if m["name"]=="summarizer-v1" for v in m["versions"] for n in v["nodes"]) else 1)' 2>/dev/null; then
    break
  fi
  sleep 0.5
done
echo 'curl -X POST http://127.0.0.1:'"$port"'/inference/v1/summarizer-v1 -H "Content-Type: application/json" -d '"'"'{"text": "The future of AI is sovereign."}'"'"
curl -sS -i -X POST "http://127.0.0.1:$port/inference/v1/summarizer-v1" -H "Content-Type: application/json" \
  -d '{"text": "The future of AI is sovereign. InfraMind is a decentralized compute protocol that runs models anywhere. Every node verifies each container before it accepts jobs, and failed jobs are re-routed to healthy nodes."}'
echo

step "8. anyone can verify the publish: signature, digests, checkpoint, inclusion proof"
"$infra" verify summarizer-v1

step "9. mesh down (containers removed)"
kill -TERM "$mesh_pid"
wait "$mesh_pid" || true
mesh_pid=""
tail -n 2 "$work/mesh.log"
