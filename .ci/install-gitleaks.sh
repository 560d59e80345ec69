#!/usr/bin/env bash
# Installs gitleaks (secret scan of the tree and the git history, docs/security-scanning.md) by
# building it from its Go module through the Go module proxy: `go install
# github.com/zricethezav/gitleaks/v8@VERSION`, into .tools/gitleaks/bin (git-ignored). Its release
# binaries live on a download site this machine cannot reach; the module proxy is reachable, and
# go.sum checking (sum.golang.org through the proxy) pins what is built.
#
# Idempotent: a no-op when the marker below exists. Needs Go >= 1.23 on PATH (the machine's Go).
#
#   .ci/install-gitleaks.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.tools/gitleaks"
BIN="$DIR/bin/gitleaks"
GITLEAKS_VERSION=v8.30.1
MARKER="$DIR/installed-gitleaks-$GITLEAKS_VERSION"

installed() { [ -f "$MARKER" ] && [ -x "$BIN" ]; }

if installed; then
  echo "gitleaks already installed: $GITLEAKS_VERSION at $BIN"
  exit 0
fi

mkdir -p "$DIR"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DIR/.install.lock"
  flock 9
  if installed; then
    echo "gitleaks already installed (by a concurrent run): $GITLEAKS_VERSION at $BIN"
    exit 0
  fi
fi

if ! command -v go >/dev/null 2>&1; then
  echo "install-gitleaks: go not found; install Go (Debian: apt-get install golang-go) and retry" >&2
  exit 1
fi

started=$(date +%s)
echo "Building gitleaks $GITLEAKS_VERSION with $(go version) into $DIR/bin"
rm -f "$BIN" "$DIR"/installed-gitleaks-*
# GOTOOLCHAIN=local: build with the machine's Go, never fetch another toolchain. The version is
# stamped as gitleaks' own release build does (otherwise `gitleaks version` says it is unset).
GOTOOLCHAIN=local GOBIN="$DIR/bin" GOFLAGS="${GOFLAGS:-} -buildvcs=false" \
  go install -ldflags "-X github.com/zricethezav/gitleaks/v8/version.Version=$GITLEAKS_VERSION" \
  "github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION"

"$BIN" version >/dev/null
touch "$MARKER"
echo "gitleaks installed: $BIN ($("$BIN" version)) in $(( $(date +%s) - started ))s"
