#!/usr/bin/env bash
# Runs tests/memory_tool/compare.py: one memory-tool transcript through the
# pinned Python SDK's BetaLocalFilesystemMemoryTool (on a folder under
# target/, ext4 here, where a directory's size is 4096 as the store prints it)
# and through a throwaway node, compared byte for byte. Takes seconds.
# usage: scripts/memory-tool-compare.sh [--cairn PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

cairn=""
if [[ ${1:-} == --cairn ]]; then cairn=$2; fi
venv=$(realpath "$(scripts/sdk-venv.sh)")
if [[ -z $cairn ]]; then
    cargo build --quiet --locked -p cairn
    cairn=target/debug/cairn
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-memtool.XXXXXX")
mkdir -p target/memory-tool-compare
pids=()
cleanup() {
    stop_pids
    rm -rf "$work"
}
trap cleanup EXIT

http_port=$(free_port)
raft_port=$(free_port)
url="http://127.0.0.1:$http_port"
token="cairn-memtool-compare-$RANDOM$RANDOM-0123456789"
cat >"$work/cairn.toml" <<TOML
node_id = 1
data_dir = "$work/data"
listen_http = "127.0.0.1:$http_port"
listen_raft = "127.0.0.1:$raft_port"
bootstrap = true

[auth]
admin_token = "$token"
TOML
"$cairn" serve --config "$work/cairn.toml" >"$work/node.log" 2>&1 &
pids+=($!)
http_ok() {
    "$venv/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$1"
}
wait_until 30 "the node became ready" http_ok "$url/ready"
"$venv/bin/python" - "$url" "$token" <<'PY'
import sys, urllib.request
request = urllib.request.Request(sys.argv[1] + "/v1/stores/memtool", data=b'{}', method="PUT",
    headers={"Authorization": "Bearer " + sys.argv[2], "Content-Type": "application/json"})
urllib.request.urlopen(request, timeout=30)
PY
COMPARE_TMP=$(realpath target/memory-tool-compare) \
    "$venv/bin/python" tests/memory_tool/compare.py "$url" "$token" memtool || {
    echo "node log: $work/node.log" >&2
    tail -20 "$work/node.log" >&2
    exit 1
}
