#!/bin/sh
# Installs Debian's nginx, whose core dav module is the HTTP PUT target of InfraMind.Storage.Tests (NginxPeer runs
# it in the foreground on a 127.0.0.1 port with a config of its own; no service is used). Idempotent.
set -eu
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "nginx is missing and installing it needs root: sudo apt-get install -y nginx" >&2
  exit 1
fi
apt-get install -y --no-install-recommends nginx || { apt-get update && apt-get install -y --no-install-recommends nginx; }
