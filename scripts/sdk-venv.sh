#!/usr/bin/env bash
# Creates target/venv-sdk with the pinned official `anthropic` Python SDK, for
# the tests that drive Cairn through it (tests/python/). Returns at once when
# the venv already holds this version. Prints the venv's path.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned so that an SDK release never changes what the tests check on its own.
ANTHROPIC_VERSION=2.14.0
venv=${CAIRN_SDK_VENV:-target/venv-sdk}

installed_version() {
    "$venv/bin/python" -c 'import anthropic; print(anthropic.__version__)' 2>/dev/null
}

if [[ "$(installed_version)" != "$ANTHROPIC_VERSION" ]]; then
    echo "== installing anthropic $ANTHROPIC_VERSION into $venv" >&2
    python3 -c 'import venv, ensurepip' 2>/dev/null || {
        sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo -n"
        $sudo apt-get update -qq && $sudo apt-get install -y -qq python3-venv >/dev/null
    }
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "anthropic==$ANTHROPIC_VERSION"
    if [[ "$(installed_version)" != "$ANTHROPIC_VERSION" ]]; then
        echo "error: $venv does not hold anthropic $ANTHROPIC_VERSION" >&2
        exit 1
    fi
fi
echo "$venv"
