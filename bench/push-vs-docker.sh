#!/usr/bin/env bash
# `infra push` to a local OCI registry against `docker push` of the same image, in the same run, interleaved round by
# round (this machine is shared: the best of N rounds is kept). Each measure gets a fresh registry (own port, own
# storage) and infra a fresh INFRAMIND_HOME, so both start cold: nothing already uploaded, nothing already exported.
#   bench/push-vs-docker.sh [IMAGE] [ROUNDS]      default: summarizer-v1:0.4.2 (build examples/summarizer-v1 first), 3
# What each side does: infra = docker save → deterministic OCI layout (uncompressed layers) → HEAD/POST/PUT per blob;
# docker = gzip every layer → upload. Bytes sent differ (docker compresses); both are printed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image="${1:-summarizer-v1:0.4.2}"
rounds="${2:-3}"
command -v docker-registry >/dev/null || { echo "docker-registry missing: bash tests/peers/registry/install.sh" >&2; exit 2; }
docker image inspect "$image" >/dev/null 2>&1 || { echo "image $image not in the engine: ./infra build examples/summarizer-v1" >&2; exit 2; }
"$root/infra" --help >/dev/null   # build once, outside the measures

work="$(mktemp -d /tmp/im-bench-push.XXXXXX)"
registry_pid=""
pushed_tag=""
cleanup() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null || true
  [ -n "$pushed_tag" ] && docker rmi "$pushed_tag" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

start_registry() {
  port="$(free_port)"
  rm -rf "$work/registry"; mkdir -p "$work/registry"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$work/registry" "$port" >"$work/registry.yml"
  docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && return 0; sleep 0.02; done
  echo "registry did not start: $(cat "$work/registry.log")" >&2; exit 1
}

stop_registry() { kill "$registry_pid"; wait "$registry_pid" 2>/dev/null || true; registry_pid=""; }

now() { date +%s.%N; }
best_infra=""; best_docker=""
for round in $(seq 1 "$rounds"); do
  start_registry
  rm -rf "$work/home"
  t0=$(now)
  INFRAMIND_HOME="$work/home" "$root/infra" push --image "$image" --to "oci://127.0.0.1:$port/bench/infra" --json >"$work/infra.json" 2>/dev/null
  t1=$(now)
  infra_s=$(echo "$t1 - $t0" | bc -l)
  infra_bytes=$(du -sb "$work/registry" | cut -f1)
  stop_registry

  start_registry
  pushed_tag="127.0.0.1:$port/bench/docker:1"
  docker tag "$image" "$pushed_tag"
  t0=$(now)
  docker push -q "$pushed_tag" >/dev/null
  t1=$(now)
  docker_s=$(echo "$t1 - $t0" | bc -l)
  docker_bytes=$(du -sb "$work/registry" | cut -f1)
  docker rmi "$pushed_tag" >/dev/null; pushed_tag=""
  stop_registry

  printf 'round %d: infra push %.2f s (registry holds %d bytes), docker push %.2f s (%d bytes)\n' "$round" "$infra_s" "$infra_bytes" "$docker_s" "$docker_bytes"
  if [ -z "$best_infra" ] || (( $(echo "$infra_s < $best_infra" | bc -l) )); then best_infra=$infra_s; fi
  if [ -z "$best_docker" ] || (( $(echo "$docker_s < $best_docker" | bc -l) )); then best_docker=$docker_s; fi
done
printf 'image %s, best of %d: infra push %.2f s, docker push %.2f s, ratio infra/docker %.2f (load average: %s)\n' \
  "$image" "$rounds" "$best_infra" "$best_docker" "$(echo "$best_infra / $best_docker" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
