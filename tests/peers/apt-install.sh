#!/bin/sh
# Usage: apt-install.sh COMMAND PACKAGE
# Installs the Debian PACKAGE that provides COMMAND, unless COMMAND is already there: the shared part of the peers'
# install scripts. Refreshes the package lists only when the cached ones do not know the package. Idempotent.
set -eu
command="$1"
package="$2"
if command -v "$command" >/dev/null 2>&1 || [ -x "/usr/sbin/$command" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "$command is missing and installing it needs root: sudo apt-get install -y --no-install-recommends $package" >&2
  exit 1
fi
apt-get install -y --no-install-recommends "$package" || { apt-get update && apt-get install -y --no-install-recommends "$package"; }
