#!/bin/sh
# Installs Debian's python3-grpcio and python3-protobuf on the host: the non-.NET client that calls the gateway's
# V2 gRPC ingress in InfraMind.Mesh.Tests (GatewayGrpcIngressTests, tests/peers/python-grpc/infer.py). Idempotent.
set -eu
# Debian's python3 (/usr/bin), whose dist-packages the Debian packages fill: a python3 earlier on PATH (pyenv) has its own.
if /usr/bin/python3 -c 'import grpc, google.protobuf' >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "python3-grpcio is missing and installing it needs root: sudo apt-get install -y --no-install-recommends python3-grpcio python3-protobuf" >&2
  exit 1
fi
apt-get install -y --no-install-recommends python3-grpcio python3-protobuf ||
  { apt-get update && apt-get install -y --no-install-recommends python3-grpcio python3-protobuf; }
