#!/usr/bin/env bash
# Creates target/venv-sdk and installs the pinned `anthropic` Python SDK into
# it: scripts/memory-tool-compare.sh runs its memory tool, and the tests in
# tests/python/ drive Cairn through its memory-store client. Returns at once,
# without the network, when the venv already holds this version. Prints the
# venv's path.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: the memory tool's texts are compared byte for byte with this
# version's `BetaLocalFilesystemMemoryTool`, and the memory-store shapes with
# its types; raise it on purpose.
ANTHROPIC_VERSION=2.14.0
venv=${CAIRN_SDK_VENV:-target/venv-sdk}

installed_version() {
    "$venv/bin/python" -c 'import anthropic; print(anthropic.__version__)' 2>/dev/null
}

if [[ "$(installed_version)" != "$ANTHROPIC_VERSION" ]]; then
    echo "== installing anthropic $ANTHROPIC_VERSION into $venv" >&2
    python3 -c 'import venv, ensurepip' 2>/dev/null || {
        sudo=""
        [[ $(id -u) -eq 0 ]] || sudo="sudo -n"
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
