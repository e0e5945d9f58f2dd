#!/bin/bash
curl -s --fail http://localhost:9000/health
