#!/bin/bash
echo "[init] Downloading tokenizer..."
python3 download_tokenizer.py
