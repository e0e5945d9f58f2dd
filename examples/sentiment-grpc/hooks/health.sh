#!/bin/sh
# Healthy when grpc.health.v1.Health/Check for the server ("") answers SERVING: an empty request, and the
# answer's bytes are field 1 (status) = 1 (SERVING). grpcio only; no generated code.
python3 -c "
import sys, grpc
with grpc.insecure_channel('127.0.0.1:50051') as channel:
    check = channel.unary_unary('/grpc.health.v1.Health/Check')
    sys.exit(0 if check(b'', timeout=2) == b'\\x08\\x01' else 1)
"
