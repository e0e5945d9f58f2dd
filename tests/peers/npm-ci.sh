#!/bin/sh
# Installs the npm peer in DIR exactly as its package-lock.json says. Idempotent: nothing to do when node_modules was
# installed from the same lock. Install scripts are not run: the peers need no native add-ons.
#   sh tests/peers/npm-ci.sh DIR
set -eu
cd "$1"
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is missing: install Node.js 18+ (Debian: apt-get install -y nodejs npm)" >&2
  exit 1
fi
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json node_modules/.inframind-lock; then
  exit 0
fi
npm ci --no-audit --no-fund --ignore-scripts
cp package-lock.json node_modules/.inframind-lock
