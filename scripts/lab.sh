#!/usr/bin/env bash
# A lab of hosts on this machine (#16): network namespaces, each a host with its own address in 10.252.0.0/24 (a range
# used only here), joined by a bridge this script makes in a namespace of its own ("the switch", so the machine's own
# firewall never sees the traffic between hosts). No namespace has a default route: traffic goes only between these
# hosts and this machine (10.252.0.1, so a client here reaches every host).
#
#   scripts/lab.sh up N      registry+content host, 2 gateway hosts, N node hosts (1-20); publishes and serves
#                            examples/summarizer-v1 (2 replicas); last line: one JSON object
#                            {"registry": URL, "gateways": [{"url", "netns", "tlsFingerprint"}…], "nodes": [{"id", "netns", "url"}…]}
#                            Every server speaks TLS (the default off loopback) with its own self-signed certificate:
#                            the registry URL carries its pin (#sha256:HEX), nodes pin the gateways and the gateways pin
#                            each node's key from its signed registration; a client pins a gateway by its tlsFingerprint.
#   scripts/lab.sh down      stops every process it started (by PID), removes every container of its nodes (by label)
#                            and every namespace and link it made; idempotent
#   scripts/lab.sh cut ID    cuts node ID's link at the switch (its packets are dropped both ways, nothing is refused)
#   scripts/lab.sh mend ID   puts it back
#   scripts/lab.sh kill NAME SIGKILLs one server by its PID: gateway-1, gateway-2, registry or a node id (a host that dies)
#   scripts/lab.sh restart gateway-1|gateway-2
#                            SIGKILLs that gateway (a crash) and starts it again as it was started, on its home: what it
#                            kept there (node bindings and standing, its TLS key) is what it has when it is up again
#
# Every server runs in its own host: `infra registry serve` (registry + the content store), `infra gateway serve` ×2,
# `infra node serve --gateway GW1,GW2` ×N, each with --listen on its host's address. They share one $INFRAMIND_HOME
# under the state directory (mesh token, signing key, local content store: the node hosts read the published image's
# local:// reference from it, as a content host would serve it), except the second gateway: it has a home of its own
# (so its own TLS certificate and key, as a gateway on another machine would) and reads the mesh token the first made
# (--node-token-file). A model's container has no network at all: only its own node reaches it.
#
# Environment: LAB_DIR (state: PIDs, namespaces, logs, home; default /tmp/inframind-lab), INFRA (the command that runs
# the CLI; default ./infra, which builds it when sources changed), LAB_HEARTBEAT (nodes' heartbeat interval, 250ms),
# LAB_MISSED_BEATS (3), LAB_CONNECT_TIMEOUT (500ms), LAB_ATTEMPT_TIMEOUT (2s), LAB_READY_TIMEOUT (seconds to wait for
# the model to be served, 240), LAB_REPLICAS (nodes the model is placed on, 2), LAB_SPOT_CHECK (the gateways'
# --spot-check-share, 0.02), LAB_LIAR (a node id, e.g. lab-node-2, that alters its answers on purpose:
# INFRAMIND_FAULT_ALTER_ANSWERS=1; the model is then published with `deterministic: true`, so spot-checks compare).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${LAB_DIR:-/tmp/inframind-lab}"
read -ra infra <<< "${INFRA:-$root/infra}"
prefix="imlab"
switch="$prefix-sw"
subnet="10.252.0"
host_link="${prefix}0"

die() { echo "lab: $*" >&2; exit 2; }

usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# One line per thing made, so `down` undoes exactly that: "netns NAME", "link NAME", "pid PID ROLE", "node ID".
record() { echo "$*" >> "$state/made"; }

ns_of_node() { echo "$prefix-n$1"; }

# A host: namespace NAME with address ADDRESS on eth0, plugged into the switch as port PORT.
add_host() {
  local name="$1" address="$2" port="$3"
  ip netns add "$name"; record netns "$name"
  ip link add "$port" type veth peer name "$port-i"
  ip link set "$port" netns "$switch"
  ip link set "$port-i" netns "$name"
  ip -n "$name" link set "$port-i" name eth0
  ip -n "$name" addr add "$address/24" dev eth0
  ip -n "$name" link set eth0 up
  ip -n "$name" link set lo up
  ip -n "$switch" link set "$port" master br0
  ip -n "$switch" link set "$port" up
  if ip -n "$name" route | grep -q default; then die "namespace $name has a default route"; fi
}

# Runs the CLI as ROLE in namespace NS with its output in LOG, on the lab's home (or on HOME, a home of its own, when
# given as the 4th argument and not empty); records its PID (ip netns exec execs the program: same PID).
start() {
  printf '%q ' "$@" > "$state/start-$1"   # how it was started, for restart
  local role="$1" ns="$2" log="$3" home="${4:-$state/home}"; shift 4
  INFRAMIND_HOME="$home" NO_COLOR=1 INFRAMIND_FAULT_ALTER_ANSWERS="$([ "$role" = "${LAB_LIAR:-}" ] && echo 1 || echo 0)" setsid ip netns exec "$ns" "${infra[@]}" "$@" < /dev/null > "$log" 2> "$log.err" &
  local pid=$!
  record pid "$pid" "$role"
  echo "$pid"
}

# Waits for the JSON object a serving command prints once up (its last line is "}") and prints it compact.
await_json() {
  local pid="$1" log="$2" what="$3"
  for _ in $(seq 600); do
    if grep -qx '}' "$log" 2>/dev/null; then
      # A serving command prints its JSON once up, or an error object ({"error": …}) when it could not start.
      if ! python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(1 if "error" in d or "code" in d else 0)' "$log"; then
        cat "$log" "$log.err" >&2; die "$what could not start"
      fi
      python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$log"; return
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$log" "$log.err" >&2; die "$what exited before it was up"; }
    sleep 0.2
  done
  cat "$log.err" >&2
  die "$what did not come up within 120 s"
}

# pinned_curl URL#sha256:HEX CURL-OPTIONS… PATH: curl to URL/PATH taking only the server's pinned TLS key (no CA: the
# servers' certificates are self-signed; curl checks the key given as sha256//BASE64 even with -k).
pinned_curl() {
  local url="${1%%#*}" pin="${1#*#}" path="${*: -1}"
  local b64
  b64=$(python3 -c 'import base64,sys; print(base64.b64encode(bytes.fromhex(sys.argv[1][7:])).decode())' "$pin")
  curl --noproxy '*' -k --pinnedpubkey "sha256//$b64" "${@:2:$#-2}" "$url$path"
}

field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

up() {
  local n="${1:-}"
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 20 ] || die "up takes the number of node hosts, 1 to 20: scripts/lab.sh up 3"
  [ "$(id -u)" = 0 ] || die "making network namespaces needs root"
  command -v ip > /dev/null || die "needs iproute2 (apt-get install iproute2)"
  if [ -e "$state/made" ]; then die "a lab is up already (state in $state): scripts/lab.sh down first"; fi
  if ip netns list | grep -q "^$prefix-"; then die "namespaces named $prefix-* exist but no state in $state: remove them (ip netns del NAME) or set LAB_DIR"; fi
  mkdir -p "$state/logs" "$state/home"
  : > "$state/made"
  lab_ok=0
  trap 'if [ "$lab_ok" != 1 ]; then echo "lab: up failed; taking down what it made (its logs: $state.failed-logs)" >&2; cp -r "$state/logs" "$state.failed-logs" 2>/dev/null || true; down > /dev/null; fi' EXIT

  "${infra[@]}" --version > /dev/null   # builds the CLI once when sources changed, before any server starts

  # The switch, and this machine's port on it.
  ip netns add "$switch"; record netns "$switch"
  ip -n "$switch" link add br0 type bridge
  ip -n "$switch" link set br0 up
  ip link add "$host_link" type veth peer name "$prefix-hp"; record link "$host_link"
  ip link set "$prefix-hp" netns "$switch"
  ip -n "$switch" link set "$prefix-hp" master br0
  ip -n "$switch" link set "$prefix-hp" up
  ip addr add "$subnet.1/24" dev "$host_link"
  ip link set "$host_link" up

  add_host "$prefix-reg" "$subnet.2" "p-reg"
  add_host "$prefix-gw1" "$subnet.11" "p-gw1"
  add_host "$prefix-gw2" "$subnet.12" "p-gw2"
  for i in $(seq "$n"); do add_host "$(ns_of_node "$i")" "$subnet.$((20 + i))" "p-n$i"; done

  local pid json registry gw1 gw2 pin1 pin2
  pid=$(start registry "$prefix-reg" "$state/logs/registry" "" registry serve --listen "$subnet.2" --port 7400 --allow-local-references --json)
  json=$(await_json "$pid" "$state/logs/registry" "the registry")
  registry=$(field "$json" registry)   # https://…/#sha256:HEX: the registry's TLS key pinned (off loopback TLS is the default)

  local gateway_args=(--port 8080 --grpc-port 0 --registry "$registry" --replicas "${LAB_REPLICAS:-2}" --spot-check-share "${LAB_SPOT_CHECK:-0.02}" --missed-beats "${LAB_MISSED_BEATS:-3}"
    --connect-timeout "${LAB_CONNECT_TIMEOUT:-500ms}" --attempt-timeout "${LAB_ATTEMPT_TIMEOUT:-2s}" --log-format json --json)
  # The first gateway makes the mesh token (in the shared home); the second (a home of its own, so a certificate of
  # its own) and the nodes read it.
  pid=$(start gateway-1 "$prefix-gw1" "$state/logs/gw1" "" gateway serve --listen "$subnet.11" "${gateway_args[@]}")
  json=$(await_json "$pid" "$state/logs/gw1" "gateway 1")
  gw1=$(field "$json" gateway); pin1=$(field "$json" tlsFingerprint)
  pid=$(start gateway-2 "$prefix-gw2" "$state/logs/gw2" "$state/home-gw2" gateway serve --listen "$subnet.12" \
    --node-token-file "$state/home/mesh/node-token" "${gateway_args[@]}")
  json=$(await_json "$pid" "$state/logs/gw2" "gateway 2")
  gw2=$(field "$json" gateway); pin2=$(field "$json" tlsFingerprint)

  local nodes=() pids=()
  for i in $(seq "$n"); do
    record node "lab-node-$i"
    pids+=("$(start "lab-node-$i" "$(ns_of_node "$i")" "$state/logs/node-$i" "" node serve --gateway "$gw1#$pin1,$gw2#$pin2" --id "lab-node-$i" --registry "$registry" \
      --listen "$subnet.$((20 + i))" --port 7500 --heartbeat-interval "${LAB_HEARTBEAT:-250ms}" --gateway-timeout 1s --allow-local-references --json)")
  done
  for i in $(seq "$n"); do
    json=$(await_json "${pids[$((i - 1))]}" "$state/logs/node-$i" "node $i")
    nodes+=("$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps({"id": d["node"], "netns": sys.argv[2], "url": d["advertised"]}))' "$json" "$(ns_of_node "$i")")")
  done

  # Publish SPEC's summarizer: image built, pushed to the content store, signed, appended to the registry's log.
  export INFRAMIND_HOME="$state/home"
  "${infra[@]}" keys generate --name lab > /dev/null 2>&1 || true
  local package="$root/examples/summarizer-v1"
  if [ -n "${LAB_LIAR:-}" ]; then
    # Spot-checks compare only what a model declares deterministic (this summarizer is): a copy that says so.
    package="$state/summarizer-v1"
    cp -r "$root/examples/summarizer-v1" "$package"
    printf 'deterministic: true\n' >> "$package/model.yaml"
  fi
  "${infra[@]}" build "$package" > "$state/logs/build" 2>&1
  local reference
  reference=$("${infra[@]}" push --image summarizer-v1:0.4.2 --to local --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["reference"])')
  "${infra[@]}" publish --model "$package/model.yaml" --image "$reference" --key lab --registry "$registry" > "$state/logs/publish" 2>&1

  # Served: both gateways have it ready on its 2 replicas.
  local deadline=$((SECONDS + ${LAB_READY_TIMEOUT:-240}))
  for gw in "$gw1#$pin1" "$gw2#$pin2"; do
    until pinned_curl "$gw" -sf --max-time 2 inference/v1 | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if sum(n["state"]=="ready" for m in d["models"] if m["name"]=="summarizer-v1" for v in m["versions"] for n in v["nodes"]) >= int(sys.argv[1]) else 1)' "${LAB_REPLICAS:-2}" 2>/dev/null; do
      [ "$SECONDS" -lt "$deadline" ] || { pinned_curl "$gw" -s inference/v1 >&2 || true; die "summarizer-v1 is not ready on ${LAB_REPLICAS:-2} nodes at $gw"; }
      sleep 0.5
    done
  done
  lab_ok=1

  local IFS=,
  echo "lab up: $n node hosts; logs and state in $state; scripts/lab.sh down removes it all" >&2
  echo "{\"registry\": \"$registry\", \"gateways\": [{\"url\": \"$gw1\", \"netns\": \"$prefix-gw1\", \"tlsFingerprint\": \"$pin1\"}, {\"url\": \"$gw2\", \"netns\": \"$prefix-gw2\", \"tlsFingerprint\": \"$pin2\"}], \"nodes\": [${nodes[*]}]}"
}

down() {
  if [ ! -f "$state/made" ]; then echo "lab: nothing is up (no state in $state)"; return 0; fi
  local pids=()
  while read -r kind what _; do
    [ "$kind" = pid ] || continue
    # Only a process of ours: the PID may have been reused once its process ended.
    if [ -r "/proc/$what/cmdline" ] && tr '\0' ' ' < "/proc/$what/cmdline" | grep -q "serve"; then kill -TERM "$what" 2>/dev/null && pids+=("$what"); fi
  done < <(tac "$state/made")
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then echo "lab: process $pid did not stop on SIGTERM within 10 s; killing it" >&2; kill -KILL "$pid" 2>/dev/null || true; fi
  done
  while read -r kind what _; do
    case "$kind" in
      node)
        # A node removes its containers when it stops; a killed one leaves them, found by the label every one carries.
        local leftovers
        leftovers=$(docker ps -aq --filter "label=org.inframind.node=$what" 2>/dev/null || true)
        if [ -n "$leftovers" ]; then docker rm -f $leftovers > /dev/null; fi ;;
      netns) ip netns del "$what" 2>/dev/null || true ;;   # takes its ends of the veth pairs, and the peers with them
      link) ip link del "$what" 2>/dev/null || true ;;
    esac
  done < <(tac "$state/made")
  rm -rf "$state"
  echo "lab: down"
}

kill_one() {
  local name="$1" pid
  [ -f "$state/made" ] || die "no lab is up (no state in $state)"
  pid=$(awk -v n="$name" '$1 == "pid" && $3 == n { print $2 }' "$state/made")
  [ -n "$pid" ] || die "no server '$name' (gateway-1, gateway-2, registry, lab-node-N)"
  kill -KILL "$pid" 2>/dev/null || die "$name (PID $pid) is not running"
  echo "lab: killed $name (PID $pid)"
}

# Whether process PID has ended (gone, or a zombie its new parent has not reaped yet).
ended() { [ ! -r "/proc/$1/stat" ] || [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1)" = Z ]; }

restart_one() {
  local name="$1" pid args
  [ -f "$state/made" ] || die "no lab is up (no state in $state)"
  [[ "$name" =~ ^gateway-[12]$ ]] || die "restart takes gateway-1 or gateway-2, not '$name'"
  pid=$(awk -v n="$name" '$1 == "pid" && $3 == n { p = $2 } END { print p }' "$state/made")
  [ -n "$pid" ] || die "no server '$name'"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 100); do ended "$pid" && break; sleep 0.1; done
  ended "$pid" || die "$name (PID $pid) did not end on SIGKILL"
  sed -i "/^pid $pid $name\$/d" "$state/made"   # its PID may be reused: down must not signal it
  eval "args=($(cat "$state/start-$name"))"
  rm -f "${args[2]}" "${args[2]}.err"          # await_json reads the new run's log, not the old one's JSON
  pid=$(start "${args[@]}")
  await_json "$pid" "${args[2]}" "$name" > /dev/null
  echo "lab: restarted $name (PID $pid)"
}

link_of() {
  local id="$1"
  [[ "$id" =~ ^lab-node-([0-9]+)$ ]] || die "no node '$id' (the lab's nodes are lab-node-1 … lab-node-N)"
  echo "p-n${BASH_REMATCH[1]}"
}

case "${1:-}" in
  up) up "${2:-}" ;;
  down) down ;;
  cut) ip -n "$switch" link set "$(link_of "${2:-}")" down ;;
  mend) ip -n "$switch" link set "$(link_of "${2:-}")" up ;;
  kill) kill_one "${2:-}" ;;
  restart) restart_one "${2:-}" ;;
  *) usage ;;
esac
