#!/usr/bin/env bash
# Benchmarks a gafferd cluster on one machine: N gafferd nodes (default 50)
# joined to one embedded NATS server, each with 20 `sleep` jobs. Prints a
# markdown table: time to a complete cluster view, GET /cluster/nodes
# latency, event fan-out on gaffer.evt.>, node-loss detection time, and the
# RSS of a node with and without clustering.
#
#   bench/cluster.sh                  50 nodes × 20 jobs
#   bench/cluster.sh -n 10 -jobs 5    any clusterbench flag
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gcluster.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/gafferd" ./cmd/gafferd
go build -o "$tmp/clusterbench" ./bench/cmd/clusterbench
"$tmp/clusterbench" -gafferd "$tmp/gafferd" "$@"
