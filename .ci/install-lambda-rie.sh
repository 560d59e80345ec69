#!/usr/bin/env bash
# Installs the AWS Lambda runtime interface emulator (aws-lambda-rie, docs/lambda.md) by building it
# from its Go module through the Go module proxy into .tools/lambda-rie/bin (git-ignored), as
# .ci/install-gitleaks.sh does: its release binaries live on a download site this machine cannot
# reach. go.sum checking (sum.golang.org through the proxy) pins what is built.
#
# Idempotent: a no-op when the marker of this version exists. Needs Go on PATH (the machine's Go).
#
#   .ci/install-lambda-rie.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.tools/lambda-rie"
BIN="$DIR/bin/aws-lambda-rie"
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
MARKER="$DIR/installed-aws-lambda-rie-$RIE_VERSION"

installed() { [ -f "$MARKER" ] && [ -x "$BIN" ]; }

if installed; then
  echo "aws-lambda-rie already installed: $RIE_VERSION at $BIN"
  exit 0
fi

mkdir -p "$DIR"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DIR/.install.lock"
  flock 9
  if installed; then
    echo "aws-lambda-rie already installed (by a concurrent run): $RIE_VERSION at $BIN"
    exit 0
  fi
fi

if ! command -v go >/dev/null 2>&1; then
  echo "install-lambda-rie: go not found; install Go (Debian: apt-get install golang-go) and retry" >&2
  exit 1
fi

started=$(date +%s)
echo "Building aws-lambda-rie $RIE_VERSION with $(go version) into $DIR/bin"
rm -f "$BIN" "$DIR"/installed-aws-lambda-rie-*
# GOTOOLCHAIN=local: build with the machine's Go, never fetch another toolchain.
GOTOOLCHAIN=local GOBIN="$DIR/bin" GOPATH="$DIR/go" GOFLAGS="${GOFLAGS:-} -buildvcs=false -modcacherw" \
  go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION"

[ -x "$BIN" ]
touch "$MARKER"
echo "aws-lambda-rie installed: $BIN in $(( $(date +%s) - started ))s"
