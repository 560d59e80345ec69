# Sourced by the .ci/install-*.sh scripts that put a Python tool from PyPI into a project-local
# virtualenv (moto, semgrep, schemathesis): the steps they share, so each script keeps only its
# pins, its Python and its smoke test.
#
# The caller sets, before calling `pinned_venv_install`:
#   TOOL          the script's name, for error messages (install-kms)
#   LABEL         what is installed, for progress lines ("semgrep 1.185.0")
#   DIR, VENV     the tool's folder under .tools and its virtualenv
#   MARKER        a file that exists once this exact pinned set is installed
#   BINARY        the executable the install must provide
#   PYTHON        the interpreter to build the virtualenv with
#   REQUIREMENTS  the full pinned set (an array)
# and defines `smoke_test`, run before the marker is written (it must fail if the tool does not run).
#
# Idempotent, and safe when parallel test workers call it at once: one installs under a lock, the
# others wait and then find it installed. A partial or older install is removed and redone.

pinned_venv_installed() { [ -f "$MARKER" ] && [ -x "$BINARY" ]; }

pinned_venv_install() {
  if pinned_venv_installed; then
    echo "$LABEL already installed at $BINARY"
    return 0
  fi
  mkdir -p "$DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$DIR/.install.lock"
    flock 9
    if pinned_venv_installed; then
      echo "$LABEL already installed (by a concurrent run) at $BINARY"
      return 0
    fi
  fi
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "$TOOL: $PYTHON not found; install Python 3 (e.g. apt-get install python3 python3-venv) or set PYTHON" >&2
    exit 1
  fi

  local started
  started=$(date +%s)
  echo "Installing $LABEL from PyPI into $VENV, with $("$PYTHON" --version 2>&1) ($(command -v "$PYTHON"))"
  rm -rf "$VENV"
  rm -f "$DIR"/installed-*

  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    # Debian's python3 ships venv separately.
    rm -rf "$VENV"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "  python3 -m venv failed; installing python3-venv from Debian's packages"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      "$PYTHON" -m venv "$VENV"
    else
      echo "$TOOL: '$PYTHON -m venv' failed; install python3-venv (Debian) or set PYTHON" >&2
      exit 1
    fi
  fi

  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install -q --no-input "${REQUIREMENTS[@]}"
  smoke_test
  touch "$MARKER"
  echo "$LABEL installed: $BINARY in $(( $(date +%s) - started ))s"
}
