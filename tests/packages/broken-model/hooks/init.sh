#!/bin/sh
# HOOK_FAIL names the hook that fails on purpose.
[ "$HOOK_FAIL" = init ] && { echo "init: tokenizer missing" >&2; exit 7; }
exit 0
