#!/bin/sh
# Installs axe-core (npm, pinned by package-lock.json), the accessibility engine InfraMind.Gateway.Tests injects into
# the dashboard from this local copy (node_modules/axe-core/axe.min.js). Idempotent.
exec sh "$(dirname "$0")/../npm-ci.sh" "$(dirname "$0")"
