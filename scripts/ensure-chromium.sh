#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium: the browser the HTML drift-report test
# (test/integration/drift-report-html.test.ts) drives through playwright-core. `npm test` runs this
# first (the `pretest` script), so a clean clone needs no manual step on Debian.
#
# - /usr/bin/chromium present and executable: does nothing.
# - Otherwise installs Debian's `chromium` package with apt-get, non-interactively, as root (or
#   through `sudo -n` when that needs no password).
# - Anything in the way (no apt-get, not root and no password-less sudo, apt failing, no
#   /usr/bin/chromium after the install) ends with exit 1 and the reason on stderr: the browser
#   test cannot run without it, so it is better to stop here than fail there.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
say() { echo "ensure-chromium: $*" >&2; }
fail() {
  say "error: $*"
  say "the HTML drift-report test needs Chromium at $CHROMIUM (Debian: apt-get install chromium)"
  exit 1
}

if [ -x "$CHROMIUM" ]; then
  exit 0
fi
say "$CHROMIUM is missing: installing Debian's chromium package"

command -v apt-get >/dev/null 2>&1 ||
  fail "no apt-get on this system (not Debian or Ubuntu): install Chromium so that $CHROMIUM exists"

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  fail "installing needs root: run as root, or: sudo apt-get install -y chromium"
fi

apt() {
  ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    -o DPkg::Lock::Timeout=300 "$@"
}

apt update >&2 || fail "apt-get update failed (see above): check the network and /etc/apt/sources.list*"
# Without recommends (udev, upower, printing, …): the tests drive it headless with --no-sandbox;
# fonts come with its dependencies (fontconfig-config needs one).
apt install --no-install-recommends chromium >&2 ||
  fail "apt-get install chromium failed (see above)"

[ -x "$CHROMIUM" ] || fail "the chromium package is installed but $CHROMIUM is not there"
"$CHROMIUM" --version >/dev/null 2>&1 || fail "$CHROMIUM is installed but does not run ($CHROMIUM --version failed)"
say "installed: $("$CHROMIUM" --version 2>/dev/null)"
