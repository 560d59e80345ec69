#!/usr/bin/env bash
# Installs semgrep (static analysis, docs/security-scanning.md) from PyPI into a project-local
# virtualenv at .tools/semgrep/venv (git-ignored), as .ci/install-kms.sh does for moto. The rules it
# runs are files in .semgrep/rules: nothing is fetched from the Semgrep registry (unreachable here,
# and CI must not depend on it), and every run passes --metrics=off.
#
# Every package is pinned (pip freeze of a fresh install of semgrep $SEMGREP_VERSION on Python 3.11),
# so CI installs exactly what was tested. Idempotent: a no-op when the marker below exists.
#
#   .ci/install-semgrep.sh            # install if missing
#   PYTHON=/path/to/python3 .ci/install-semgrep.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.tools/semgrep"
VENV="$DIR/venv"
SEMGREP_VERSION=1.185.0
MARKER="$DIR/installed-semgrep-$SEMGREP_VERSION"
PYTHON="${PYTHON:-python3}"

REQUIREMENTS=(
  "semgrep==$SEMGREP_VERSION"
  annotated-types==0.8.0
  anyio==4.16.0
  attrs==26.1.0
  boltons==21.0.0
  bracex==3.2.3
  certifi==2026.10.19.post1
  cffi==2.1.1
  charset-normalizer==3.5.3
  click==8.4.2
  click-option-group==0.5.10
  colorama==0.4.6
  cryptography==50.0.2
  exceptiongroup==1.2.2
  face==26.0.1
  glom==25.12.0
  googleapis-common-protos==1.76.0
  h11==0.16.0
  httpcore==1.0.9
  httpx==0.29.0
  httpx-sse==0.4.3
  idna==3.20
  importlib_metadata==8.7.1
  jsonschema==4.25.1
  jsonschema-specifications==2025.9.1
  markdown-it-py==4.3.0
  mcp==1.29.0
  mdurl==0.1.2
  opentelemetry-api==1.37.0
  opentelemetry-exporter-otlp-proto-common==1.37.0
  opentelemetry-exporter-otlp-proto-http==1.37.0
  opentelemetry-instrumentation==0.58b0
  opentelemetry-instrumentation-requests==0.58b0
  opentelemetry-instrumentation-threading==0.58b0
  opentelemetry-proto==1.37.0
  opentelemetry-sdk==1.37.0
  opentelemetry-semantic-conventions==0.58b0
  opentelemetry-util-http==0.58b0
  packaging==26.4
  peewee==3.19.0
  protobuf==6.33.6
  pycparser==3.12
  pydantic==2.14.4
  pydantic-settings==2.16.3
  pydantic_core==2.50.5
  Pygments==2.21.0
  PyJWT==2.15.1
  python-dotenv==1.2.4
  python-multipart==0.0.34
  referencing==0.37.0
  requests==2.34.2
  rich==15.0.0
  rpds-py==2026.9.1
  ruamel.yaml==0.19.1
  ruamel.yaml.clib==0.2.15
  semantic-version==2.10.0
  sse-starlette==3.7.1
  starlette==1.10.0
  structlog==26.1.0
  tomli==2.4.1
  typing-inspection==0.4.5
  typing_extensions==4.16.0
  urllib3==2.8.0
  uvicorn==0.55.0
  wcmatch==8.5.2
  wrapt==1.17.3
  zipp==4.1.2
)

TOOL=install-semgrep
LABEL="semgrep $SEMGREP_VERSION"
BINARY="$VENV/bin/semgrep"
smoke_test() {
  # Offline, no metrics.
  SEMGREP_SEND_METRICS=off "$VENV/bin/semgrep" --version >/dev/null
}
# shellcheck source=lib/pinned-venv.sh
. "$ROOT/.ci/lib/pinned-venv.sh"
pinned_venv_install
