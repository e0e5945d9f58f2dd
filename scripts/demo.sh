#!/usr/bin/env bash
# The main job: SPEC.md's whole flow on the embedded defaults, on this machine.
#   engine set-up → validate → infra test → push (local content store, and IPFS when INFRAMIND_IPFS_API names a
#   node) → signing key → mesh up (registry + gateway + 2 nodes) → publish, signed → POST /inference/v1/summarizer-v1
#   with SPEC.md's example input → verify → mesh down (containers removed).
# With CHAIN=1 the registry is an EVM dev chain instead: ganache from tests/peers/chain starts on a free 127.0.0.1 port,
#   a funded account's key is imported as the payer, a secp256k1 deployer key signs, `infra chain deploy` makes the
#   registry, the mesh follows it (`mesh up --registry eth://…`), publish records on it, verify checks the chain record;
#   then a yank makes the mesh stop serving it. The chain is stopped by its PID.
# Environment: PORT (gateway, default 8080), INFRAMIND_HOME (default: a fresh temporary one), INFRAMIND_IPFS_API, CHAIN.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
port="${PORT:-8080}"
work="$(mktemp -d)"
export INFRAMIND_HOME="${INFRAMIND_HOME:-$work/home}"
mesh_pid=""
chain_pid=""
chain="${CHAIN:-}"
cleanup() {
  for pid in "$mesh_pid" "$chain_pid"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      wait "$pid" || true
    fi
  done
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

registry=()
publish_to=()
serving="registry"
recorded="appended to the registry's log"
if [ -n "$chain" ]; then
  serving="the chain's follower"
  recorded="recorded on chain"
  step "4. an EVM dev chain (ganache), a payer, a secp256k1 deployer key, and the registry contract"
  sh tests/peers/chain/install.sh >/dev/null
  rpc_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  node tests/peers/chain/node_modules/ganache/dist/node/cli.js --host 127.0.0.1 --port "$rpc_port" --wallet.deterministic \
    --chain.chainId 1337 --logging.quiet > "$work/chain.log" 2>&1 &
  chain_pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null -X POST -H 'content-type: application/json' --data '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "http://127.0.0.1:$rpc_port/" && break
    sleep 0.1
  done
  echo "ganache (chain id 1337) at http://127.0.0.1:$rpc_port, PID $chain_pid"
  # ganache --wallet.deterministic's funded account 0, as the chain prints it.
  echo 0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d > "$work/funded.hex"
  "$infra" keys import --name payer --type secp256k1 --private-key-file "$work/funded.hex"
  "$infra" keys generate --name deployer --type secp256k1
  url=$("$infra" chain deploy --rpc "http://127.0.0.1:$rpc_port/" --payer payer --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["registry"]); print("deployed in block", d["block"], "for", d["gasUsed"], "gas", file=sys.stderr)')
  echo "registry: $url"
  registry=(--registry "$url")
  publish_to=(--registry "$url" --payer payer)
else
  step "4. the deployer's signing key"
  "$infra" keys generate --name deployer
fi

step "5. infra mesh up: $serving + gateway + 2 node agents on 127.0.0.1"
"$infra" mesh up --nodes 2 --port "$port" --registry-port 0 "${registry[@]}" > "$work/mesh.log" 2>&1 &
mesh_pid=$!
for _ in $(seq 150); do
  grep -q "mesh up" "$work/mesh.log" && break
  kill -0 "$mesh_pid" 2>/dev/null || { cat "$work/mesh.log"; exit 1; }
  sleep 0.2
done
cat "$work/mesh.log"

step "6. infra publish --model model.yaml --image $reference (signed, $recorded)"
"$infra" publish --model examples/summarizer-v1/model.yaml "${images[@]}" --key deployer "${publish_to[@]}"

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

if [ -n "$chain" ]; then
  step "8. anyone can verify the publish: the chain record, the statement by its digest, signature, signer, not yanked"
  "$infra" verify summarizer-v1 "${registry[@]}"
  "$infra" log "${registry[@]}"

  step "8b. the owner yanks it: the record stays, verification says so, the mesh stops serving it"
  "$infra" chain yank summarizer-v1@0.4.2 "${registry[@]}" --key deployer --payer payer --reason "demo"
  for _ in $(seq 50); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/inference/v1/summarizer-v1" -H "Content-Type: application/json" -d '{"text": "x"}')" = 404 ] && break
    sleep 0.2
  done
  echo "POST /inference/v1/summarizer-v1 after the yank: $(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/inference/v1/summarizer-v1" -H "Content-Type: application/json" -d '{"text": "x"}')"
  "$infra" verify summarizer-v1@0.4.2 "${registry[@]}" || echo "(exit $?: yanked)"
else
  step "8. anyone can verify the publish: signature, digests, checkpoint, inclusion proof"
  "$infra" verify summarizer-v1
fi

step "9. infra mesh down (containers removed)"
# mesh down finds the mesh by its record in $INFRAMIND_HOME/run and waits for it to exit; the trap's kill stays the
# fallback should it fail.
"$infra" mesh down
wait "$mesh_pid" || true
mesh_pid=""
tail -n 2 "$work/mesh.log"
if [ -n "$chain_pid" ]; then
  kill -TERM "$chain_pid"
  wait "$chain_pid" || true
  chain_pid=""
  echo "dev chain stopped"
fi
