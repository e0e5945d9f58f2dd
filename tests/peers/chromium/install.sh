#!/bin/sh
# Installs Debian's chromium, the headless browser InfraMind.Gateway.Tests drives through Microsoft.Playwright (its
# executable path, /usr/bin/chromium; never `playwright install`, which would download a browser). Idempotent.
set -eu
exec sh "$(dirname "$0")/../apt-install.sh" chromium chromium
