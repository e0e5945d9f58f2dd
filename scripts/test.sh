#!/usr/bin/env bash
# The test command: sets up what the tests need, runs every test project, and ends with one line
# `N passed, N failed` summed over all projects. Exit status is non-zero when anything failed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
results="$root/.tmp/test-results"
rm -rf "$results"
mkdir -p "$results"

for setup in scripts/setup-engine.sh scripts/setup-peers.sh; do
  if [ -f "$setup" ]; then
    echo "== $setup"
    bash "$setup" || { echo "setup failed: $setup"; echo "0 passed, 1 failed"; exit 1; }
  fi
done

echo "== dotnet test"
dotnet test InfraMind.slnx --nologo -c Release --logger "trx" -- RunConfiguration.TreatNoTestsAsError=true
status=$?

passed=0
failed=0
shopt -s nullglob
trx=("$results"/*/*.trx)
for f in "${trx[@]}"; do
  counters=$(grep -o '<Counters [^>]*>' "$f" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  fl=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${fl:-0}))
done
if [ "${#trx[@]}" -eq 0 ] || { [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; }; then
  # The build or a test host failed before any result was written: count it as a failure, never as green.
  failed=$((failed + 1))
fi
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
