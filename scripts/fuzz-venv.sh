#!/usr/bin/env bash
# Creates target/venv and installs the pinned Schemathesis into it. Run it as
# often as you like: when the venv already holds this version it returns at
# once without touching the network. Prints the venv's path.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned so that a new Schemathesis release (new checks, new generators)
# never turns CI red on its own; raise it on purpose and rerun --long.
SCHEMATHESIS_VERSION=4.32.5
venv=${CAIRN_VENV:-target/venv}

installed_version() {
    "$venv/bin/schemathesis" --version 2>/dev/null | awk '{print $NF}'
}

# Debian splits venv's pip bootstrap into python3-venv; install it when it
# is missing and we may (root, or sudo without a password).
ensure_venv_module() {
    python3 -c 'import venv, ensurepip' 2>/dev/null && return
    echo "== installing python3-venv (Debian)" >&2
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo -n"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq python3-venv >/dev/null
}

if [[ "$(installed_version)" != "$SCHEMATHESIS_VERSION" ]]; then
    echo "== installing schemathesis $SCHEMATHESIS_VERSION into $venv" >&2
    ensure_venv_module
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION"
    if [[ "$(installed_version)" != "$SCHEMATHESIS_VERSION" ]]; then
        echo "error: $venv/bin/schemathesis is not version $SCHEMATHESIS_VERSION" >&2
        exit 1
    fi
fi
echo "$venv"
