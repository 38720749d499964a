#!/usr/bin/env bash
# Benchmarks gafferd's live channel: event fan-out to many websocket
# subscribers and output streaming to several, printing a markdown table.
#
#   bench/channel.sh                      100 subscribers × 2000 events, 50 MB to 10 subscribers
#   bench/channel.sh -subs 20 -mb 10      any chanbench flag
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gchan.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/gafferd" ./cmd/gafferd
go build -o "$tmp/writer" ./bench/cmd/writer
go build -o "$tmp/chanbench" ./bench/cmd/chanbench
"$tmp/chanbench" -gafferd "$tmp/gafferd" -writer "$tmp/writer" "$@"
