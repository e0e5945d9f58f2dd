#!/usr/bin/env bash
# Builds InfraMind itself as an image (deploy/Dockerfile): the self-contained `infra` that ./infra publishes to
# .build/infra (rebuilt only when a source changed), on the local Debian base image. Nothing is pulled.
# INFRAMIND_READY_TO_RUN=0 takes ./infra's plain publish (.build/infra-plain: a quicker build, a slower start; the tests).
#
# Usage: scripts/build-image.sh [TAG] [-- DOCKER-BUILD-ARGS...]      (TAG default inframind:VERSION)
#   e.g. scripts/build-image.sh inframind:dev -- --label org.example.team=ml --build-arg BASE=debian:bookworm-slim
# Prints the tag on its last line. Exit codes: 0 built, 1 the build failed, 2 usage error.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
tag=""
if [[ $# -gt 0 && $1 != "--" ]]; then tag=$1; shift; fi
if [[ $# -gt 0 ]]; then
  [[ $1 == "--" ]] || { echo "build-image: unexpected argument '$1' (usage: scripts/build-image.sh [TAG] [-- DOCKER-BUILD-ARGS...])" >&2; exit 2; }
  shift
fi
command -v docker >/dev/null || { echo "build-image: docker is not installed (scripts/setup-engine.sh sets up an engine)" >&2; exit 1; }

# ./infra publishes (self-contained, ReadyToRun composite) when a source changed, then prints the version.
version="$("$root/infra" --version)" || { echo "build-image: building infra failed" >&2; exit 1; }
version="${version%%+*}"
[[ -n $tag ]] || tag="inframind:$version"
base="$(sed -n 's/^ARG BASE=//p' "$root/deploy/Dockerfile")"
for a in "$@"; do [[ $a == BASE=* ]] && base="${a#BASE=}"; done
docker image inspect "$base" >/dev/null 2>&1 || {
  echo "build-image: the base image $base is not in the engine and cannot be pulled here: run scripts/setup-engine.sh" >&2; exit 1; }

# --pull=false: the base must come from the engine itself (there is no registry to pull from).
docker build --pull=false -q -f "$root/deploy/Dockerfile" \
  --label org.opencontainers.image.title=inframind \
  --label "org.opencontainers.image.version=$version" \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  "$@" -t "$tag" "$root/.build/$([ "${INFRAMIND_READY_TO_RUN:-1}" = 0 ] && echo infra-plain || echo infra)" >&2 || { echo "build-image: docker build failed" >&2; exit 1; }
echo "$tag"
