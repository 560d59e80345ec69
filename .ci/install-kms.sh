#!/usr/bin/env bash
# Installs an AWS-KMS-compatible server for the tests: moto's server mode (`moto_server`), from PyPI,
# into a project-local virtualenv at .tools/kms/venv (git-ignored). test/helpers/kms-server.ts runs
# this script before starting a server (a ~10 ms no-op once installed), so calling it from .ci/run
# is optional: it just moves the install out of the first test's time.
#
# Why `moto[kms]` + flask + flask-cors and not `moto[server]`: moto_server needs only Flask and
# flask-cors on top of moto's core; the `server` extra also pulls cfn-lint, docker, aws-xray-sdk,
# openapi-spec-validator, graphql-core, ... (317 MB and ~26 s vs 140 MB and ~12 s here). The `kms`
# extra adds no packages in 5.2.5; it is named so that a future pin picks up any KMS-only deps.
#
# Every package is pinned (the full resolved set), so CI installs exactly what was tested.
# Idempotent: does nothing when the pinned set is already installed (marker file below).
#
#   .ci/install-kms.sh            # install if missing
#   PYTHON=/path/to/python3 .ci/install-kms.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KMS_DIR="$ROOT/.tools/kms"
VENV="$KMS_DIR/venv"
MOTO_VERSION=5.2.5
MARKER="$KMS_DIR/installed-moto-$MOTO_VERSION"
PYTHON="${PYTHON:-python3}"

# moto 5.2.5 + Flask/flask-cors and their resolved dependencies (pip freeze of a fresh install).
REQUIREMENTS=(
  "moto[kms]==$MOTO_VERSION"
  flask==3.1.3
  flask-cors==6.0.5
  blinker==1.9.0
  boto3==1.44.8
  botocore==1.44.8
  certifi==2026.10.19.post1
  cffi==2.1.1
  charset-normalizer==3.5.3
  click==8.5.1
  cryptography==50.0.2
  idna==3.20
  itsdangerous==2.2.0
  jinja2==3.1.6
  jmespath==1.1.0
  markupsafe==3.0.4
  pycparser==3.12
  python-dateutil==2.9.0.post0
  pyyaml==6.0.4
  requests==2.34.2
  responses==0.26.3
  s3transfer==0.19.3
  six==1.17.0
  urllib3==2.8.0
  werkzeug==3.1.9
  xmltodict==1.0.4
)

TOOL=install-kms
LABEL="KMS server (moto $MOTO_VERSION, moto_server + Flask)"
DIR="$KMS_DIR"
BINARY="$VENV/bin/moto_server"
smoke_test() {
  "$VENV/bin/python" -c 'import moto.server, moto.kms, flask, flask_cors'
  "$VENV/bin/moto_server" --help >/dev/null
}
# shellcheck source=lib/pinned-venv.sh
. "$ROOT/.ci/lib/pinned-venv.sh"
pinned_venv_install
