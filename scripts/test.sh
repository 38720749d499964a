#!/usr/bin/env bash
# The whole test suite. Installs what the tests need on a fresh Debian
# machine (Go must be present), then runs vet, gofmt and every test with the
# race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
command -v go >/dev/null || { echo "test.sh: Go is required" >&2; exit 1; }

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
