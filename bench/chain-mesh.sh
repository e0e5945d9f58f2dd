#!/usr/bin/env bash
# From a confirmed publish to the first 200 through the gateway: `infra mesh up --registry eth://…` on a dev chain,
# against the embedded log registry as the baseline measured in the same run, with the real CLI as a user runs it.
# Each run publishes a new version of examples/summarizer-v1 (so a node verifies it, starts and pre-flights a container)
# and polls POST /inference/v1/summarizer-v1/versions/VERSION every 20 ms from the moment `infra publish` exits (for a
# chain: its receipt, confirmation depth 0 on a dev chain) until the first 200.
#   CHAIN=hardhat|ganache RUNS=5 bash bench/chain-mesh.sh   (RUNS: 1-10, default 5)
# Needs a running engine and python:3.10-slim (scripts/setup-engine.sh). Starts the chain and the meshes on free
# 127.0.0.1 ports, stops each by its PID; the meshes remove their containers.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs="${RUNS:-5}"
case "$runs" in '' | *[!0-9]*) echo "RUNS must be a whole number from 1 to 10, not '$runs'" >&2; exit 2 ;; esac
if [ "$runs" -lt 1 ] || [ "$runs" -gt 10 ]; then echo "RUNS must be from 1 to 10, not $runs" >&2; exit 2; fi
chain="${CHAIN:-hardhat}"
peer="$root/tests/peers/chain"
sh "$peer/install.sh" >/dev/null
dotnet build -c Release src/InfraMind.Cli -v q -nologo >/dev/null
infra() { dotnet "$root/src/InfraMind.Cli/bin/Release/net10.0/infra.dll" "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

work="$(mktemp -d)"
chain_pid=""
mesh_pid=""
cleanup() {
  # shellcheck disable=SC2086 # one PID per word
  for pid in $mesh_pid $chain_pid; do
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

rpc_port="$(free_port)"
case "$chain" in
  hardhat)
    (cd "$peer" && exec node node_modules/hardhat/internal/cli/cli.js node --config hardhat.config.cjs --hostname 127.0.0.1 --port "$rpc_port") >"$work/chain.log" 2>&1 &
    key=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 ;;
  ganache)
    node "$peer/node_modules/ganache/dist/node/cli.js" --host 127.0.0.1 --port "$rpc_port" --wallet.deterministic --chain.chainId 1337 --logging.quiet >"$work/chain.log" 2>&1 &
    key=0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d ;;
  *) echo "CHAIN is hardhat or ganache, not $chain" >&2; exit 2 ;;
esac
chain_pid=$!
for _ in $(seq 300); do
  curl -s -o /dev/null -X POST -H 'content-type: application/json' --data '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "http://127.0.0.1:$rpc_port/" && break
  sleep 0.1
done

infra build examples/summarizer-v1 >/dev/null
# Two homes, two meshes up at once (one node each): the runs alternate between them, so both see the same machine.
log_home="$work/log-home"
chain_home="$work/chain-home"
log_ref="$(INFRAMIND_HOME="$log_home" infra push --image summarizer-v1:0.4.2 --to local --json 2>/dev/null | json reference)"
chain_ref="$(INFRAMIND_HOME="$chain_home" infra push --image summarizer-v1:0.4.2 --to local --json 2>/dev/null | json reference)"
INFRAMIND_HOME="$log_home" infra keys generate --name deployer >/dev/null
echo "$key" >"$work/payer.hex"
INFRAMIND_HOME="$chain_home" infra keys import --name payer --private-key-file "$work/payer.hex" >/dev/null
INFRAMIND_HOME="$chain_home" infra keys generate --name deployer --type secp256k1 >/dev/null
registry="$(INFRAMIND_HOME="$chain_home" infra chain deploy --rpc "http://127.0.0.1:$rpc_port/" --payer payer --json | json registry)"
echo "$chain: registry $registry"

# Started here, not in a subshell: their PIDs are this script's to stop.
start_mesh() {
  local home="$1" log="$2"; shift 2
  INFRAMIND_HOME="$home" infra mesh up --nodes 1 --port 0 --registry-port 0 "$@" >"$log" 2>&1 &
  mesh_pid="$mesh_pid $!"
  for _ in $(seq 300); do
    grep -q "mesh up" "$log" && return 0
    sleep 0.2
  done
  cat "$log"; exit 1
}
start_mesh "$log_home" "$work/mesh-log.log"
start_mesh "$chain_home" "$work/mesh-chain.log" --registry "$registry"
log_gateway="$(cat "$log_home/run/gateway.url")"
chain_gateway="$(cat "$chain_home/run/gateway.url")"

# One run: publish a new version, then time from the exit of `infra publish` to the version's first 200.
run() {
  local backend="$1" version="$2" home gateway
  local dir="$work/model-$backend-$version"
  cp -r examples/summarizer-v1 "$dir"
  # Small resources, so every version published stays placed beside the earlier ones on the one node.
  sed -i -e "s/^version: .*/version: $version/" -e "s/^  cpu: .*/  cpu: 250m/" -e "s/^  memory: .*/  memory: 256Mi/" "$dir/model.yaml"
  if [ "$backend" = log ]; then
    home="$log_home"; gateway="$log_gateway"
    INFRAMIND_HOME="$home" infra publish --model "$dir/model.yaml" --image "$log_ref" --key deployer >/dev/null
  else
    home="$chain_home"; gateway="$chain_gateway"
    INFRAMIND_HOME="$home" infra publish --model "$dir/model.yaml" --image "$chain_ref" --registry "$registry" --key deployer --payer payer >/dev/null
  fi
  local start; start="$(now_ms)"
  local code=""
  for _ in $(seq 6000); do
    code="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' -d '{"text": "bench"}' \
      "${gateway}inference/v1/summarizer-v1/versions/$version" || true)"
    [ "$code" = 200 ] && break
    sleep 0.02
  done
  [ "$code" = 200 ] || { echo "$backend $version: no 200 within 2 minutes (last $code)"; exit 1; }
  local took=$(( $(now_ms) - start ))
  echo "$backend $took" >>"$work/times"
  echo "  $backend $version: $took ms"
}

echo "publish -> first 200 through the gateway (1 node each; a version is verified, its container started and pre-flighted; the"
echo "gateway learns a node's readiness from its heartbeat, every 2 s, which sets the granularity of both):"
for i in $(seq "$runs"); do
  if [ $((i % 2)) = 1 ]; then run log "1.0.$i"; run chain "1.0.$i"; else run chain "1.0.$i"; run log "1.0.$i"; fi
done
median() { grep "^$1 " "$work/times" | cut -d' ' -f2 | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
range() { grep "^$1 " "$work/times" | cut -d' ' -f2 | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%d-%d ms", lo, hi }'; }
log_ms="$(median log)"
chain_ms="$(median chain)"
echo
echo "median of $runs: log registry (baseline) $log_ms ms ($(range log)); eth:// registry on $chain $chain_ms ms ($(range chain)): $(awk -v c="$chain_ms" -v l="$log_ms" 'BEGIN { printf "%.2f", c / l }')x the baseline"
