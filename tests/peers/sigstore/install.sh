#!/bin/sh
# Installs the independent Sigstore verifier (npm @sigstore/verify) that InfraMind.Cli.Tests run against the bundles
# `infra publish` attaches to images as OCI 1.1 referrers.
exec sh "$(dirname "$0")/../npm-ci.sh" "$(dirname "$0")"
