#!/usr/bin/env bash
# Times `infra test examples/summarizer-v1` (image cached) against a bare shell doing the same work — docker run with
# no network under the same limits, init hook, poll the port and send the same 14 requests with curl inside the
# container's network namespace (nsenter, as InfraMind connects), healthcheck hook, docker rm — alternating the two
# ROUNDS times in one run, and prints the ratio of the medians (target ≤ 1.15).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${ROUNDS:-5}"
example="$root/examples/summarizer-v1"
image="summarizer-v1:0.4.2"
"$root/infra" --version >/dev/null            # build once, outside the timing
infra="$root/.build/infra/infra"
"$infra" test "$example" --cases 10 >/dev/null  # make sure the image exists and passes

now() { date +%s.%N; }

shell_run() {
  local cid pid ns body
  cid=$(docker run -d --network none --cap-drop ALL --security-opt no-new-privileges --ulimit nofile=4096:4096 \
    --memory 4g --memory-swap 4g --cpus 2 --pids-limit 256 "$image")
  pid=$(docker inspect -f '{{.State.Pid}}' "$cid")
  ns="nsenter --net=/proc/$pid/ns/net"
  docker exec "$cid" sh hooks/init.sh >/dev/null
  until $ns curl -s -o /dev/null --max-time 1 "http://127.0.0.1:9000/health"; do sleep 0.02; done
  docker exec "$cid" sh hooks/health.sh >/dev/null
  body='{"text": "InfraMind is a decentralized compute protocol. It runs models anywhere. Nodes verify every container."}'
  for _ in $(seq 10); do $ns curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:9000/"; done
  for bad in '{"unterminated' '[1,2,3]' '{}' '{"text": 12345}'; do
    $ns curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d "$bad" "http://127.0.0.1:9000/"
  done
  docker rm -f "$cid" >/dev/null
}

infra_run() { "$infra" test "$example" --cases 10 >/dev/null; }

shell_times=() infra_times=()
for i in $(seq "$rounds"); do
  t0=$(now); shell_run; t1=$(now); infra_run; t2=$(now)
  shell_times+=("$(echo "$t1 - $t0" | bc)")
  infra_times+=("$(echo "$t2 - $t1" | bc)")
  printf 'round %d: shell %.3f s, infra test %.3f s\n' "$i" "${shell_times[-1]}" "${infra_times[-1]}"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
s=$(median "${shell_times[@]}"); f=$(median "${infra_times[@]}")
printf 'median: shell %.3f s, infra test %.3f s, ratio infra/shell = %.2f (target <= 1.15)\n' "$s" "$f" "$(echo "$f / $s" | bc -l)"
