#!/bin/sh
# Runs bench/chain-bench against a fresh dev chain on a free 127.0.0.1 port (started here, stopped by its PID).
#   CHAIN=hardhat|ganache sh bench/chain.sh [--publishes N] [--publishers 1-8]
# Hardhat 2's node is the default: ganache 7.9.2 hangs on eth_estimateGas sent while it mines other senders'
# transactions (seen here: some estimates never answer), so it runs the concurrent rows with --publishers 1 only.
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
peer="$root/tests/peers/chain"
sh "$peer/install.sh" >/dev/null
chain="${CHAIN:-hardhat}"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp)"
case "$chain" in
  hardhat) (cd "$peer" && exec node node_modules/hardhat/internal/cli/cli.js node --config hardhat.config.cjs --hostname 127.0.0.1 --port "$port") >"$log" 2>&1 & ;;
  ganache) node "$peer/node_modules/ganache/dist/node/cli.js" --host 127.0.0.1 --port "$port" --wallet.deterministic --chain.chainId 1337 --logging.quiet >"$log" 2>&1 & ;;
  *) echo "CHAIN is hardhat or ganache, not $chain" >&2; exit 2 ;;
esac
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT INT TERM
i=0
until curl -s -o /dev/null -X POST -H 'content-type: application/json' --data '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "http://127.0.0.1:$port/"; do
  i=$((i + 1)); [ "$i" -lt 300 ] || { echo "$chain did not start:"; cat "$log"; exit 1; }
  sleep 0.1
done
dotnet run -c Release --project "$root/bench/chain-bench" -- --rpc "http://127.0.0.1:$port/" --chain "$chain" "$@"
