#!/usr/bin/env bash
# The main job: SPEC.md's flow on the embedded defaults, step by step, as far as it is built.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
infra="$root/infra"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export INFRAMIND_HOME="${INFRAMIND_HOME:-$work/home}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. create a model package"
"$infra" init sentiment-v1 --dir "$work/sentiment-v1"

step "2. validate it"
"$infra" validate "$work/sentiment-v1"
