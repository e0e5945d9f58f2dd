#!/bin/sh
# Installs Debian's zsh and fish: Cli.Tests' ToolInstallTests source `infra completion zsh|fish` in them and complete
# a verb, an option and an option's value, as bash's test does. Idempotent.
set -eu
here="$(dirname "$0")"
sh "$here/../apt-install.sh" zsh zsh
sh "$here/../apt-install.sh" fish fish
