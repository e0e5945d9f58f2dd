#!/bin/sh
[ "$HOOK_FAIL" = healthcheck ] && { echo "unhealthy: queue stuck" >&2; exit 1; }
[ "$HOOK_FAIL" = hang ] && sleep 30
exit 0
