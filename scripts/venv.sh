# Shared by the scripts that install Python tools into the project's .venv/ (source it, after
# `cd` to the project root and with `say` defined): one place for creating the venv and for
# pip's settings and error advice.
PYTHON=${PYTHON:-python3}

# Creates .venv/ with $PYTHON unless it exists. $1: the command to run again, for the advice.
venv_create() {
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    say "error: '$PYTHON' not found. Install Python 3.9 or newer with venv support (Debian/Ubuntu:"
    say "  apt-get install python3 python3-venv), then run: $1"
    return 1
  fi
  if [ ! -x .venv/bin/python ]; then
    say "creating .venv/ with $PYTHON -m venv"
    if ! "$PYTHON" -m venv .venv; then
      rm -rf .venv
      say "error: could not create .venv/ (Debian/Ubuntu: apt-get install python3-venv), then run this again"
      return 1
    fi
  fi
}

# pip-installs the requirements into .venv/. $1: the command to run again; the rest: requirements.
venv_install() {
  local again=$1
  shift
  say "installing $* into .venv/ with pip"
  if ! .venv/bin/python -m pip install --disable-pip-version-check --retries 2 --timeout 30 "$@"; then
    say "error: pip could not install $* into .venv/."
    say "  Check that your package index is reachable (pip config list), then run: $again"
    return 1
  fi
}
