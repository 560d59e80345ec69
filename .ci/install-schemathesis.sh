#!/usr/bin/env bash
# Installs schemathesis (the OpenAPI conformance fuzzer, from PyPI) into a project-local virtualenv
# at .tools/schemathesis/venv (git-ignored), for test/integration/schemathesis.test.ts, which runs
# this script before it starts the API (a ~10 ms no-op once installed); .ci/run calls it as its own
# step so the install is not counted in the test's time.
#
# Every package is pinned (the full resolved set: pip freeze of a fresh `pip install schemathesis`),
# so CI installs exactly what was tested. Idempotent: does nothing when the pinned set is installed.
#
#   .ci/install-schemathesis.sh            # install if missing
#   PYTHON=/path/to/python3 .ci/install-schemathesis.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ST_DIR="$ROOT/.tools/schemathesis"
VENV="$ST_DIR/venv"
ST_VERSION=4.32.5
# The newest Python 3 found, 3.12 or later if there is one: CPython 3.11 (up to 3.11.7, Debian
# bookworm's 3.11.2 too) can fail inside Hypothesis with "SystemError: AST constructor recursion
# depth mismatch" (CPython gh-106905) while schemathesis builds large arrays, a runtime error
# in the run that is no finding about the API.
if [ -z "${PYTHON:-}" ]; then
  candidates=(python3.13 python3.12)
  # A pyenv install (as on the CI image) has 3.12+ versions whose shims are not on the global path.
  if command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9])(\.[0-9]+)?$' | sort -t. -k2,2nr -k3,3nr); do
      candidates+=("$(pyenv root)/versions/$version/bin/python3")
    done
  fi
  candidates+=(python3)
  for candidate in "${candidates[@]}"; do
    if "$candidate" --version >/dev/null 2>&1; then PYTHON=$candidate; break; fi
  done
fi
PYTHON="${PYTHON:-python3}"

REQUIREMENTS=(
  "schemathesis==$ST_VERSION"
  anyio==4.16.0
  certifi==2026.10.19.post1
  charset-normalizer==3.5.3
  click==8.5.1
  graphql-core==3.3.2
  harfile==0.6.0
  hypothesis==6.170.17
  hypothesis-graphql==0.13.5
  idna==3.20
  iniconfig==2.3.1
  jsonschema_rs==0.60.3
  markdown-it-py==4.3.0
  MarkupSafe==3.0.4
  mdurl==0.1.2
  packaging==26.4
  pluggy==1.7.0
  Pygments==2.21.0
  pyrate-limiter==4.5.1
  pytest==9.2.0
  PyYAML==6.0.4
  requests==2.34.2
  rich==15.0.0
  sortedcontainers==2.4.0
  typing_extensions==4.16.0
  urllib3==2.8.0
  Werkzeug==3.1.9
)

MARKER="$ST_DIR/installed-schemathesis-$ST_VERSION-$("$PYTHON" -c 'import sys; print("py%d.%d" % sys.version_info[:2])' 2>/dev/null || echo unknown)"

TOOL=install-schemathesis
LABEL="schemathesis $ST_VERSION"
DIR="$ST_DIR"
BINARY="$VENV/bin/st"
smoke_test() {
  "$VENV/bin/st" --version >/dev/null
}
# shellcheck source=lib/pinned-venv.sh
. "$ROOT/.ci/lib/pinned-venv.sh"
pinned_venv_install
