#!/bin/sh
# Runs once after the container starts: fail early if the model's data is missing or corrupt.
set -e
echo "[init] checking the lexicon"
python3 serve.py --check
