#!/bin/bash
echo "[init] Training classifiers from data/iris.csv..."
python3 train.py
