#!/usr/bin/env bash
# Runs gaffer's benchmark: gafferd beside Debian's supervisord and a direct
# baseline, in one run, printing a markdown table with ratios.
#
#   bench/run.sh            full run (N=1000, 20 s idle, 50 respawns, 200 MB of log; ~6 min)
#   bench/run.sh -quick     smaller sizes (~2 min)
#   bench/run.sh -only respawn,stop -k 20 ...   any gafferbench flag
#
# Builds gafferd and the bench tools into a temp dir and installs the
# `supervisor` package when supervisord is missing (as root, or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "run.sh: Go is required" >&2; exit 1; }

if ! command -v supervisord >/dev/null; then
  echo "run.sh: supervisord missing: installing Debian's supervisor package" >&2
  sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then sudo=(sudo -n); else echo "run.sh: not root and no sudo: running without supervisord" >&2; fi
  fi
  if [ "$(id -u)" = 0 ] || [ ${#sudo[@]} -gt 0 ]; then
    "${sudo[@]}" apt-get update -qq >&2 || true
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq supervisor >&2 ||
      echo "run.sh: installing supervisor failed: running without supervisord" >&2
  fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/gafferbench" ./bench/cmd/gafferbench
go build -o "$tmp/stamp" ./bench/cmd/stamp
go build -o "$tmp/writer" ./bench/cmd/writer
gafferd=()
if go build -o "$tmp/gafferd" ./cmd/gafferd; then
  gafferd=(-gafferd "$tmp/gafferd")
else
  echo "run.sh: gafferd does not build: running without it" >&2
fi

# Not exec: the trap removes the temp dir afterwards.
"$tmp/gafferbench" -stamp "$tmp/stamp" -writer "$tmp/writer" "${gafferd[@]}" -workdir "$tmp" "$@"
