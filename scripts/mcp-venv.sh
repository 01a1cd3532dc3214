#!/usr/bin/env bash
# Creates target/venv-mcp and installs the pinned official Python MCP SDK
# (`mcp`) into it: tests/node/mcp.rs runs tests/python/mcp_session.py with it
# against the real binary's `/mcp`. Returns at once, without the network, when
# the venv already holds this version. Prints the venv's path.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned so that a clean clone tests against the client the suite ran with;
# raise it on purpose.
MCP_VERSION=2.3.0
venv=${CAIRN_MCP_VENV:-target/venv-mcp}

installed_version() {
    "$venv/bin/python" -c 'from importlib.metadata import version; print(version("mcp"))' 2>/dev/null
}

if [[ "$(installed_version)" != "$MCP_VERSION" ]]; then
    echo "== installing mcp $MCP_VERSION into $venv" >&2
    python3 -c 'import venv, ensurepip' 2>/dev/null || {
        sudo=""
        [[ $(id -u) -eq 0 ]] || sudo="sudo -n"
        $sudo apt-get update -qq && $sudo apt-get install -y -qq python3-venv >/dev/null
    }
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "mcp==$MCP_VERSION"
    if [[ "$(installed_version)" != "$MCP_VERSION" ]]; then
        echo "error: $venv does not hold mcp $MCP_VERSION" >&2
        exit 1
    fi
fi
echo "$venv"
