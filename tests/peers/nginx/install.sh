#!/bin/sh
# Installs Debian's nginx, whose core dav module is the HTTP PUT target of InfraMind.Storage.Tests (NginxPeer runs
# it in the foreground on a 127.0.0.1 port with a config of its own; no service is used). Idempotent.
set -eu
exec sh "$(dirname "$0")/../apt-install.sh" nginx nginx
