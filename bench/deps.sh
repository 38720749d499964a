#!/usr/bin/env bash
# Benchmarks dependency scheduling: time until 200 jobs run, as a graph of
# depth 10 (condition started, delay 0) and without dependencies, printing
# a markdown table.
#
#   bench/deps.sh                         200 jobs, depth 10, 5 runs each
#   bench/deps.sh -jobs 1000 -depth 20    any depbench flag
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
go run ./bench/cmd/depbench "$@"
