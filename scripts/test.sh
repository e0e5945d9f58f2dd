#!/usr/bin/env bash
# The test command: sets up what the tests need, runs every test project, and ends with one line
# `N passed, N failed, N skipped` summed over all projects. Exit status is non-zero when anything failed.
#
# Every peer a test needs (the engine, its base image, the registry, nginx, js-ipfs, the dev chains, podman, skopeo)
# is required here: a missing one FAILS its tests (INFRAMIND_REQUIRE_PEERS=1, which the test helpers honour, as they
# honour CI=true). A developer without some peer can opt out: `INFRAMIND_REQUIRE_PEERS=0 ./scripts/test.sh` reports
# those tests as skipped, never as passed. Under CI=true peers are required whatever this says.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
results="$root/.tmp/test-results"
rm -rf "$results"
mkdir -p "$results"

for setup in scripts/setup-engine.sh scripts/setup-peers.sh; do
  if [ -f "$setup" ]; then
    echo "== $setup"
    bash "$setup" || { echo "setup failed: $setup"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
  fi
done

export INFRAMIND_REQUIRE_PEERS="${INFRAMIND_REQUIRE_PEERS:-1}"
# Every project of the solution must build, benches and tools included: `dotnet test` builds only what the tests use,
# so a bench that no longer compiled went unnoticed.
echo "== dotnet build"
dotnet build InfraMind.slnx --nologo -c Release -v quiet || { echo "build failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
echo "== dotnet test (INFRAMIND_REQUIRE_PEERS=${INFRAMIND_REQUIRE_PEERS}${CI:+, CI=$CI})"
# --no-build: the step above built everything. Left to build, `dotnet test` ran the test projects one after another
# (each waited on MSBuild's build of its references on the other node), about 20 minutes in all; built already, they
# run two at a time, the longest (Cli.Tests) beside the rest.
dotnet test InfraMind.slnx --nologo -c Release --no-build --logger "trx" -- RunConfiguration.TreatNoTestsAsError=true
status=$?

passed=0
failed=0
skipped=0
shopt -s nullglob
trx=("$results"/*/*.trx)
for f in "${trx[@]}"; do
  counters=$(grep -o '<Counters [^>]*>' "$f" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  fl=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  # A skipped test is a result with outcome NotExecuted (the counters have no field of their own for it).
  sk=$(grep -o '<UnitTestResult [^>]*outcome="NotExecuted"' "$f" | wc -l)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${fl:-0}))
  skipped=$((skipped + sk))
done
if [ "${#trx[@]}" -eq 0 ] || { [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; }; then
  # The build or a test host failed before any result was written: count it as a failure, never as green.
  failed=$((failed + 1))
fi
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ]
