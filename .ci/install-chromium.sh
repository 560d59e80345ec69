#!/usr/bin/env bash
# Headless Chromium from Debian's packages, for the Web UI browser test
# (test/integration/web-ui-browser.test.ts drives it with puppeteer-core, which downloads no
# browser). Skipped when a Chromium is already there. The test fails in CI without it.
#
# Use from .ci/run either way:
#   .ci/install-chromium.sh
#   source .ci/install-chromium.sh && install_chromium

install_chromium() {
  if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ]; then
    echo "Chromium already installed: $CHROMIUM_PATH ($("$CHROMIUM_PATH" --version 2>/dev/null || true))"
    return 0
  fi
  if [ -x /usr/bin/chromium ]; then
    echo "Chromium already installed: /usr/bin/chromium ($(/usr/bin/chromium --version 2>/dev/null || true))"
    return 0
  fi

  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "install-chromium: not root and no sudo; cannot apt-get install chromium" >&2
      return 1
    fi
  fi

  echo "Installing Chromium from Debian's packages"
  "${sudo[@]}" apt-get update -qq || return 1
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium || return 1
  if [ -x /usr/bin/chromium ]; then
    echo "Chromium installed: /usr/bin/chromium ($(/usr/bin/chromium --version 2>/dev/null || true))"
    return 0
  fi
  echo "install-chromium: apt-get install chromium finished but there is no /usr/bin/chromium" >&2
  return 1
}

# Executed (not sourced): do it.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  install_chromium
fi
