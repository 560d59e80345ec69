#!/usr/bin/env bash
# Installs what `npm run lambda:local` and test/integration/lambda-emulator.test.ts run the Lambda
# handler under, into .tools/ (git-ignored), as Lambda runs it (docs/lambda.md):
#
# - the runtime interface emulator, aws-lambda-rie, built from its Go module through the Go module
#   proxy into .tools/lambda-rie/bin, as .ci/install-gitleaks.sh does: its release binaries live on
#   a download site this machine cannot reach. go.sum checking (sum.golang.org through the proxy)
#   pins what is built.
# - the runtime interface client, aws-lambda-ric (npm), into .tools/lambda-ric. Not a devDependency:
#   its install builds curl and aws-lambda-cpp from source (about a minute, and autotools, cmake and
#   a C++ compiler), which every `npm ci` would then pay for, and the function does not need it in
#   its zip (Lambda's nodejs20.x runtime has its own). Its build tools come from Debian's packages.
#
# Idempotent: each part is a no-op when the marker of its version exists. Needs Go and npm on PATH.
#
#   .ci/install-lambda-rie.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.tools/lambda-rie"
BIN="$DIR/bin/aws-lambda-rie"
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
MARKER="$DIR/installed-aws-lambda-rie-$RIE_VERSION"
RIC_DIR="$ROOT/.tools/lambda-ric"
RIC_VERSION=3.2.0
RIC_BIN="$RIC_DIR/node_modules/.bin/aws-lambda-ric"
RIC_MARKER="$RIC_DIR/installed-aws-lambda-ric-$RIC_VERSION"

rie_installed() { [ -f "$MARKER" ] && [ -x "$BIN" ]; }
ric_installed() { [ -f "$RIC_MARKER" ] && [ -x "$RIC_BIN" ] && [ -f "$RIC_DIR/node_modules/aws-lambda-ric/dist/rapid-client.node" ]; }

if rie_installed && ric_installed; then
  echo "aws-lambda-rie already installed: $RIE_VERSION at $BIN"
  echo "aws-lambda-ric already installed: $RIC_VERSION at $RIC_BIN"
  exit 0
fi

mkdir -p "$DIR"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DIR/.install.lock"
  flock 9
fi

install_rie() {
  if rie_installed; then
    echo "aws-lambda-rie already installed: $RIE_VERSION at $BIN"
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "install-lambda-rie: go not found; install Go (Debian: apt-get install golang-go) and retry" >&2
    return 1
  fi
  local started
  started=$(date +%s)
  echo "Building aws-lambda-rie $RIE_VERSION with $(go version) into $DIR/bin"
  rm -f "$BIN" "$DIR"/installed-aws-lambda-rie-*
  # GOTOOLCHAIN=local: build with the machine's Go, never fetch another toolchain.
  GOTOOLCHAIN=local GOBIN="$DIR/bin" GOPATH="$DIR/go" GOFLAGS="${GOFLAGS:-} -buildvcs=false -modcacherw" \
    go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION"
  [ -x "$BIN" ]
  touch "$MARKER"
  echo "aws-lambda-rie installed: $BIN in $(( $(date +%s) - started ))s"
}

# aws-lambda-ric's preinstall (scripts/preinstall.sh in its tarball) runs curl's ./buildconf
# (autoreconf: autoconf, automake, libtool), ./configure and make, then cmake for aws-lambda-cpp;
# its postinstall runs node-gyp (python3, make, g++). Only the missing ones are installed.
install_ric_build_tools() {
  local missing=() pair
  for pair in autoreconf:autoconf automake:automake libtoolize:libtool cmake:cmake make:make g++:g++ python3:python3; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "install-lambda-rie: not root and no sudo; cannot apt-get install ${missing[*]} (aws-lambda-ric's build tools)" >&2
      return 1
    fi
  fi
  echo "Installing aws-lambda-ric's build tools from Debian's packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_ric() {
  if ric_installed; then
    echo "aws-lambda-ric already installed: $RIC_VERSION at $RIC_BIN"
    return 0
  fi
  install_ric_build_tools
  local started
  started=$(date +%s)
  echo "Installing aws-lambda-ric $RIC_VERSION (builds its native addon) into $RIC_DIR"
  rm -rf "$RIC_DIR"
  mkdir -p "$RIC_DIR"
  # Its own package.json keeps npm from walking up to the project's.
  printf '{ "name": "lambda-ric-tools", "private": true }\n' > "$RIC_DIR/package.json"
  npm install --prefix "$RIC_DIR" --no-audit --no-fund --save-exact "aws-lambda-ric@$RIC_VERSION" > "$RIC_DIR/install.log" 2>&1 \
    || { tail -40 "$RIC_DIR/install.log" >&2; return 1; }
  if ! ric_installed_files; then
    echo "install-lambda-ric: npm install finished but there is no native addon (dist/rapid-client.node)" >&2
    tail -40 "$RIC_DIR/install.log" >&2
    return 1
  fi
  touch "$RIC_MARKER"
  echo "aws-lambda-ric installed: $RIC_BIN in $(( $(date +%s) - started ))s"
}
ric_installed_files() { [ -x "$RIC_BIN" ] && [ -f "$RIC_DIR/node_modules/aws-lambda-ric/dist/rapid-client.node" ]; }

install_rie
install_ric
