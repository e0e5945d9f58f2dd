#!/bin/sh
# The port accepts connections (the gRPC health service is the readiness check's business).
python3 -c "import socket; socket.create_connection(('127.0.0.1', 50051), timeout=2).close()"
