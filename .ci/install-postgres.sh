#!/usr/bin/env bash
# Makes PostgreSQL's server binaries (initdb, pg_ctl, postgres) available for the tests, from
# Debian's packages. The tests start their own throwaway clusters (test/helpers/postgres.ts), so the
# cluster Debian's package creates and may auto-start is stopped and disabled again.
#
# Use from .ci/run either way:
#   .ci/install-postgres.sh
#   source .ci/install-postgres.sh && install_postgres

install_postgres() {
  local bin
  for bin in /usr/lib/postgresql/*/bin/initdb; do
    if [ -x "$bin" ]; then
      echo "PostgreSQL already installed: $(dirname "$bin")"
      return 0
    fi
  done

  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "install-postgres: not root and no sudo; cannot apt-get install postgresql" >&2
      return 1
    fi
  fi

  echo "Installing PostgreSQL from Debian's packages"
  "${sudo[@]}" apt-get update -qq || return 1
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql || return 1

  # Don't leave the Debian-managed cluster running (or starting at boot): ignore every error here,
  # as which of these exist depends on the machine (systemd or not, a cluster created or not).
  if command -v pg_lsclusters >/dev/null 2>&1; then
    local version name _rest
    while read -r version name _rest; do
      [ -n "$version" ] && [ -n "$name" ] || continue
      "${sudo[@]}" pg_ctlcluster --force "$version" "$name" stop >/dev/null 2>&1 || true
    done < <(pg_lsclusters -h 2>/dev/null || true)
  fi
  "${sudo[@]}" service postgresql stop >/dev/null 2>&1 || true
  if command -v systemctl >/dev/null 2>&1; then
    "${sudo[@]}" systemctl disable --now postgresql >/dev/null 2>&1 || true
  fi

  for bin in /usr/lib/postgresql/*/bin/initdb; do
    if [ -x "$bin" ]; then
      echo "PostgreSQL installed: $(dirname "$bin")"
      return 0
    fi
  done
  echo "install-postgres: apt-get install postgresql finished but no /usr/lib/postgresql/*/bin/initdb" >&2
  return 1
}

# Executed (not sourced): do it.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  install_postgres
fi
