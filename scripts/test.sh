#!/usr/bin/env bash
# The whole test suite. Installs what the tests need on a fresh Debian
# machine (Go must be present): Debian's supervisor package, for the
# compatibility tests that run the real supervisord and supervisorctl, and
# Debian's chromium, for the dashboard's headless browser test.
# Then runs vet, gofmt and every test with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "test.sh: Go is required" >&2; exit 1; }

if ! command -v supervisord >/dev/null || ! command -v supervisorctl >/dev/null; then
  echo "== installing Debian's supervisor (for the compatibility tests)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends supervisor >/dev/null
fi

if ! command -v chromium >/dev/null; then
  echo "== installing Debian's chromium (for the dashboard's browser test)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

echo "== go vet"
go vet ./...
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt: these files need formatting:" >&2
  echo "$unformatted" >&2
  exit 1
fi
echo "== go test -race"
go test -race -count=1 -timeout 20m ./... "$@"
