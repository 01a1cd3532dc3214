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

if [[ "$(installed_version)" != "$SCHEMATHESIS_VERSION" ]]; then
    echo "== installing schemathesis $SCHEMATHESIS_VERSION into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION"
    if [[ "$(installed_version)" != "$SCHEMATHESIS_VERSION" ]]; then
        echo "error: $venv/bin/schemathesis is not version $SCHEMATHESIS_VERSION" >&2
        exit 1
    fi
fi
echo "$venv"
