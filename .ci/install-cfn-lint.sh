#!/usr/bin/env bash
# Installs cfn-lint (AWS CloudFormation/SAM linter, docs/deploy-aws.md) from PyPI into a
# project-local virtualenv at .tools/cfn-lint/venv (git-ignored), as .ci/install-semgrep.sh does.
# Every package is pinned (pip freeze of a fresh install of cfn-lint $CFN_LINT_VERSION on Python 3.11).
#
#   .ci/install-cfn-lint.sh            # install if missing
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.tools/cfn-lint"
VENV="$DIR/venv"
CFN_LINT_VERSION=1.58.0
MARKER="$DIR/installed-cfn-lint-$CFN_LINT_VERSION"
PYTHON="${PYTHON:-python3}"

REQUIREMENTS=(
  "cfn-lint==$CFN_LINT_VERSION"
  jsonpatch==1.48
  jsonpointer==3.12
  mpmath==1.3.0
  networkx==3.6.1
  PyYAML==6.0.4
  regex==2026.11.19
  sympy==1.14.0
  typing_extensions==4.16.0
)

TOOL=install-cfn-lint
LABEL="cfn-lint $CFN_LINT_VERSION"
BINARY="$VENV/bin/cfn-lint"
smoke_test() {
  "$VENV/bin/cfn-lint" --version >/dev/null
}
# shellcheck source=lib/pinned-venv.sh
. "$ROOT/.ci/lib/pinned-venv.sh"
pinned_venv_install
