#!/usr/bin/env bash
# `infra push` to a local OCI registry against `docker push` of the same image, in the same run, interleaved round by
# round. Each measure gets a fresh registry (own port, own storage) and infra a fresh INFRAMIND_HOME, so both start
# cold: nothing already uploaded, nothing already exported.
#   bench/push-vs-docker.sh [IMAGE] [ROUNDS]      default: summarizer-v1:0.4.2 (build examples/summarizer-v1 first), 5
# What each side does: infra = docker save → deterministic OCI layout (layers gzip level 6, 4 MiB members compressed
# on all cores) → HEAD/POST/PUT per blob; docker = gzip every layer (one core per layer) → upload.
# Bytes sent = what the registry stores after the push (blobs + manifest + the registry's own link files: the same
# overhead on both sides). Prints every round, then medians with min-max (the noise of this shared machine) and the
# issue's targets, both taken on medians of the same run: time infra/docker <= 0.6, bytes infra/docker <= 1.05.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image="${1:-summarizer-v1:0.4.2}"
rounds="${2:-5}"
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
infra_times=(); docker_times=(); infra_sizes=(); docker_sizes=()
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
  infra_times+=("$infra_s"); docker_times+=("$docker_s"); infra_sizes+=("$infra_bytes"); docker_sizes+=("$docker_bytes")
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }'; }
mi=$(median "${infra_times[@]}"); md=$(median "${docker_times[@]}")
bi=$(median "${infra_sizes[@]}"); bd=$(median "${docker_sizes[@]}")
time_ratio=$(echo "$mi / $md" | bc -l); bytes_ratio=$(echo "$bi / $bd" | bc -l)
verdict() { if (( $(echo "$1 <= $2" | bc -l) )); then echo "met"; else echo "MISSED"; fi; }
printf 'image %s, %d rounds, medians (min-max): infra push %.2f s (%s), docker push %.2f s (%s)\n' \
  "$image" "$rounds" "$mi" "$(spread "${infra_times[@]}")" "$md" "$(spread "${docker_times[@]}")"
printf 'bytes in the registry, medians: infra %d, docker %d\n' "$bi" "$bd"
printf 'time infra/docker %.2f (target <= 0.6: %s), bytes infra/docker %.3f (target <= 1.05: %s) (load average: %s)\n' \
  "$time_ratio" "$(verdict "$time_ratio" 0.6)" "$bytes_ratio" "$(verdict "$bytes_ratio" 1.05)" "$(cut -d' ' -f1-3 /proc/loadavg)"
