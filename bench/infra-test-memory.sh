#!/usr/bin/env bash
# Peak memory of `infra test` against a model that answers every valid input with 300 MB (chunked, so no length warns
# the reader), next to the same run against the same model answering normally (the baseline, measured in the same
# run). Before #13 the answer was read whole: 12 GB and 49 s. Now it is read up to the cap (16 MiB) and the connection
# dropped. Prints each run's peak RSS (the kernel's VmHWM, from /usr/bin/time -v) and the medians; target: the huge
# answer's median <= 256 MiB.
# Bounded: ROUNDS (default 5, at most 20) alternating pairs of runs, 3 valid cases each; every container is removed by
# `infra test` itself, the images by this script. Needs a running engine and python:3.10-slim (scripts/setup-engine.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${ROUNDS:-5}"
case "$rounds" in '' | *[!0-9]*) echo "ROUNDS must be a whole number from 1 to 20, not '$rounds'" >&2; exit 2 ;; esac
if [ "$rounds" -lt 1 ] || [ "$rounds" -gt 20 ]; then echo "ROUNDS must be from 1 to 20, not $rounds" >&2; exit 2; fi
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
"$root/infra" --version >/dev/null            # build once, outside the measure
infra="$root/.build/infra/infra"
work="$(mktemp -d)"
home="$work/home"
trap 'docker rmi -f bench-memory-huge:1.0.0 bench-memory-good:1.0.0 >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# Two copies of tests/packages/broken-model: one answering 300 MB ("huge"), one answering normally.
package() {
  local name="$1" behavior="$2" dir="$work/$1"
  cp -r "$root/tests/packages/broken-model" "$dir"
  sed -i "s/^ARG BEHAVIOR=.*/ARG BEHAVIOR=$behavior/" "$dir/Dockerfile"
  sed -i "s/^name: broken-model/name: $name/" "$dir/model.yaml"
  echo "$dir"
}
huge="$(package bench-memory-huge huge)"
good="$(package bench-memory-good good)"

# One run: prints its peak RSS in KiB; the run's exit code is 1 for the huge answer (response-too-large), 0 for the good.
peak() {
  local dir="$1" expected="$2" code=0
  INFRAMIND_HOME="$home" /usr/bin/time -v -o "$work/time.txt" "$infra" test "$dir" --cases 3 --no-negative --json >"$work/report.json" 2>/dev/null || code=$?
  if [ "$code" -ne "$expected" ]; then
    echo "infra test $dir exited $code, expected $expected:" >&2
    cat "$work/report.json" >&2
    exit 1
  fi
  if [ "$expected" -eq 1 ] && ! grep -q '"response-too-large"' "$work/report.json"; then
    echo "the huge answer was not judged response-too-large:" >&2
    cat "$work/report.json" >&2
    exit 1
  fi
  awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt"
}

peak "$huge" 1 >/dev/null   # build both images once, outside the measure
peak "$good" 0 >/dev/null
huge_kib=() good_kib=()
for i in $(seq "$rounds"); do
  huge_kib+=("$(peak "$huge" 1)")
  good_kib+=("$(peak "$good" 0)")
  printf 'round %d: 300 MB answers %d MiB, normal answers %d MiB\n' "$i" "$((huge_kib[-1] / 1024))" "$((good_kib[-1] / 1024))"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
h=$(median "${huge_kib[@]}"); g=$(median "${good_kib[@]}")
printf 'median peak RSS of infra test: 300 MB answers %.0f MiB, normal answers %.0f MiB (baseline), +%.0f MiB (target: <= 256 MiB)\n' \
  "$(echo "$h / 1024" | bc -l)" "$(echo "$g / 1024" | bc -l)" "$(echo "($h - $g) / 1024" | bc -l)"
if [ "$(echo "$h > 256 * 1024" | bc)" -eq 1 ]; then echo "over the target" >&2; exit 1; fi
