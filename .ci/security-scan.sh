#!/usr/bin/env bash
# The security scans (docs/security-scanning.md): `npm run security:scan` runs all three; .ci/run
# runs each as its own step. Each exits non-zero on a finding that security/accepted-findings.md
# does not accept.
#
#   .ci/security-scan.sh [all|audit|semgrep|secrets]
#
#   audit    npm audit of the production dependencies at high (dist/cli/npm-audit.js: build first).
#            NPM_AUDIT_IF_UNREACHABLE=warn: an audit that cannot reach the registry's advisory
#            endpoint is reported and does not fail (.ci/run sets it; see the docs for why).
#   semgrep  the rules committed in .semgrep/rules, offline (--metrics=off), over the files git tracks.
#   secrets  gitleaks over the working tree (what git would commit: tracked and untracked, not ignored)
#            and over every commit of the history, with .gitleaks.toml.
# Each scan returns non-zero itself (`|| return 1`): `set -e` does not apply inside a function
# called from `||`, which is how `all` runs them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
what="${1:-all}"

SEMGREP="$ROOT/.tools/semgrep/venv/bin/semgrep"
GITLEAKS="$ROOT/.tools/gitleaks/bin/gitleaks"

run_audit() {
  echo "--- npm audit (production dependencies, high and critical)"
  local flags=()
  [ "${NPM_AUDIT_IF_UNREACHABLE:-}" = warn ] && flags+=(--if-unreachable=warn)
  node "$ROOT/dist/cli/npm-audit.js" "${flags[@]}" || return 1
}

run_semgrep() {
  echo "--- semgrep (.semgrep/rules, offline)"
  bash "$ROOT/.ci/install-semgrep.sh" >/dev/null || return 1
  # No registry, no metrics, no version check: the rules are files here and nothing leaves the
  # machine. --error: exit 1 on any finding.
  SEMGREP_SEND_METRICS=off SEMGREP_ENABLE_VERSION_CHECK=0 \
    "$SEMGREP" scan --config "$ROOT/.semgrep/rules" --metrics=off --disable-version-check --error --quiet \
    --text "$ROOT" 2>&1 || return 1
  echo "semgrep: $(ls "$ROOT"/.semgrep/rules/*.yml | wc -l) rule files, 0 findings"
}

run_secrets() {
  echo "--- gitleaks (working tree, then git history)"
  bash "$ROOT/.ci/install-gitleaks.sh" >/dev/null || return 1
  # The tree as git sees it: a copy of the tracked and untracked-but-not-ignored files, so a
  # developer's git-ignored data/keys (real local secrets, never committed) are not findings and a
  # new file not yet added is.
  local tree
  tree="$(mktemp -d)"
  trap 'rm -rf "$tree"' RETURN
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -f "$f" ] && printf '%s\0' "$f"
  done | xargs -0 -r cp --parents -t "$tree"
  (cd "$tree" && "$GITLEAKS" dir --config "$ROOT/.gitleaks.toml" --no-banner --redact --verbose --log-level warn --exit-code 1 .) || return 1
  echo "gitleaks: working tree ($(git ls-files --cached --others --exclude-standard | wc -l) files): no leaks"
  "$GITLEAKS" git --config "$ROOT/.gitleaks.toml" --no-banner --redact --verbose --log-level warn --exit-code 1 "$ROOT" || return 1
  echo "gitleaks: git history ($(git rev-list --all | wc -l) commits): no leaks"
}

case "$what" in
  audit) run_audit ;;
  semgrep) run_semgrep ;;
  secrets) run_secrets ;;
  all)
    # All three run even when one fails, so one run shows everything; the exit is non-zero if any did.
    failed=()
    run_audit || failed+=(audit)
    run_semgrep || failed+=(semgrep)
    run_secrets || failed+=(secrets)
    if [ ${#failed[@]} -gt 0 ]; then
      echo "security scan: FAILED: ${failed[*]}"
      exit 1
    fi
    echo "security scan: audit, semgrep and secrets passed"
    ;;
  *) echo "usage: $0 [all|audit|semgrep|secrets]" >&2; exit 2 ;;
esac
