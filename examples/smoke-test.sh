#!/usr/bin/env bash
# Builds and runs each example with plain docker, published on 127.0.0.1 only, and checks its REST contract:
# good input -> 200 with the expected fields, bad input -> 400 with a JSON error, GET /health -> 200, hooks pass.
# Everything it starts is removed on exit, whatever happens.
#
#   examples/smoke-test.sh [summarizer-v1|iris-classifier ...]
set -euo pipefail
cd "$(dirname "$0")"
EXAMPLES=("$@")
((${#EXAMPLES[@]})) || EXAMPLES=(summarizer-v1 iris-classifier)

CONTAINERS=()
# dockerd runs with --bridge=none here, so there is no default bridge to publish from: use a network of our own.
NETWORK="inframind-smoke-$$"
cleanup() {
  for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  docker network rm "$NETWORK" >/dev/null 2>&1 || true
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect STATUS BODY_GREP URL CURL_ARGS...
expect() {
  local want=$1 grep_for=$2 url=$3; shift 3
  local out status
  out=$(curl -s -o /dev/stdout -w '\n%{http_code}' "$@" "$url")
  status=${out##*$'\n'}
  out=${out%$'\n'*}
  [[ $status == "$want" ]] || fail "$url $* -> $status (want $want): $out"
  [[ $out == *"$grep_for"* ]] || fail "$url $* -> body lacks '$grep_for': $out"
  echo "  ok $status $* -> ${out:0:140}"
}

docker network create --label org.inframind.smoke=true "$NETWORK" >/dev/null

for ex in "${EXAMPLES[@]}"; do
  tag="inframind-smoke/$ex:test"
  echo "== $ex: build"
  DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ex" >/dev/null 2>&1 || DOCKER_BUILDKIT=0 docker build -t "$tag" "$ex"
  cid=$(docker run -d --network "$NETWORK" --label org.inframind.smoke=true -p 127.0.0.1::9000 "$tag")
  CONTAINERS+=("$cid")
  port=$(docker port "$cid" 9000/tcp | grep '^127.0.0.1:' | head -n1 | cut -d: -f2)
  [[ -n $port ]] || fail "$ex: no port published on 127.0.0.1"
  base="http://127.0.0.1:$port"
  for _ in $(seq 100); do curl -s -o /dev/null "$base/health" && break; sleep 0.05; done
  echo "== $ex: hooks"
  docker exec "$cid" sh hooks/init.sh || fail "$ex: init hook"
  docker exec "$cid" sh hooks/health.sh >/dev/null || fail "$ex: health hook"
  echo "== $ex: requests on $base"
  expect 200 '"status"' "$base/health"
  expect 400 '"error"' "$base/" -X POST -H 'Content-Type: application/json' --data 'not json'
  expect 400 '"error"' "$base/" -X POST -H 'Content-Type: application/json' --data '[1,2]'
  expect 400 '"error"' "$base/" -X POST -H 'Content-Type: application/json' --data '{}'
  head -c 2000000 /dev/zero | tr '\0' 'a' >/tmp/inframind-smoke-big.json
  expect 400 '"error"' "$base/" -X POST -H 'Content-Type: application/json' --data-binary @/tmp/inframind-smoke-big.json
  rm -f /tmp/inframind-smoke-big.json
  case $ex in
    summarizer-v1)
      expect 200 '"summary": "InfraMind is a decentralized compute protocol."' "$base/" -X POST \
        -H 'Content-Type: application/json' --data '{"text": "InfraMind is a decentralized compute protocol."}'
      expect 200 'nodes' "$base/" -X POST -H 'Content-Type: application/json' --data \
        '{"text": "Nodes run containers. The sky is blue. Nodes verify containers before nodes run them. Cats sleep. Containers on nodes are signed."}'
      expect 400 'invalid_type' "$base/" -X POST -H 'Content-Type: application/json' --data '{"text": 5}'
      ;;
    iris-classifier)
      expect 200 '"label": "setosa"' "$base/" -X POST -H 'Content-Type: application/json' --data \
        '{"measurements": {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}}'
      expect 200 '"label": "virginica"' "$base/" -X POST -H 'Content-Type: application/json' --data \
        '{"measurements": {"sepal_length": 67, "sepal_width": 30, "petal_length": 52, "petal_width": 23}, "unit": "mm", "method": "knn", "k": 7}'
      expect 200 '"label": "versicolor"' "$base/" -X POST -H 'Content-Type: application/json' --data \
        '{"measurements": {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}, "candidates": ["versicolor", "virginica"]}'
      expect 400 '/measurements/petal_width' "$base/" -X POST -H 'Content-Type: application/json' --data \
        '{"measurements": {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": -1}}'
      expect 400 '/unit' "$base/" -X POST -H 'Content-Type: application/json' --data \
        '{"measurements": {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 1}, "unit": ["cm"]}'
      expect 400 '/candidates' "$base/" -X POST -H 'Content-Type: application/json' --data \
        '{"measurements": {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 1}, "candidates": []}'
      ;;
  esac
  [[ $(docker inspect -f '{{.State.Running}}' "$cid") == true ]] || fail "$ex: container died"
  docker rm -f "$cid" >/dev/null
  docker rmi "$tag" >/dev/null
  echo "== $ex: PASS"
done
