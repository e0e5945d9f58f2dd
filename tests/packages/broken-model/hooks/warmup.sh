#!/bin/sh
[ "$HOOK_FAIL" = warmup ] && { echo "warmup: model failed to load" >&2; exit 5; }
exit 0
