#!/usr/bin/env bash
# Exports and imports a store of N MiB (N files of ~1 MiB, each written
# twice, so 2N MiB of versions) on a throwaway node, and reports the time and
# the peak memory (RSS) of the CLI and of the node for each: both stream, so
# neither should grow with the store.
#
#   scripts/export-bench.sh [--mib N] [--cairn PATH]
#
# The node's peak RSS is reset (/proc/PID/clear_refs) before the export and
# before the import, so each figure is that step's own. The node's RSS also
# holds redb's page cache of what it read and wrote (redb's default, up to
# 1 GiB per database), which grows with the data touched whatever the
# export does; the CLI's is the archive code's alone. KEEP=1 keeps the
# node's directory.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

mib=64
cairn=""
while (($#)); do
    case $1 in
    --mib) mib=$2 && shift ;;
    --cairn) cairn=$2 && shift ;;
    *)
        echo "usage: $0 [--mib N] [--cairn PATH]" >&2
        exit 2
        ;;
    esac
    shift
done
if [[ -z $cairn ]]; then
    cargo build --quiet --locked --release -p cairn
    cairn=target/release/cairn
fi
cairn=$(realpath "$cairn")

work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-export-bench.XXXXXX")
pids=()
trap 'finish_work $? node.log' EXIT

http_port=$(free_port)
raft_port=$(free_port)
token="bench-operator-$$-$RANDOM$RANDOM"
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
node=$!
pids+=("$node")
export CAIRN_URL="http://127.0.0.1:$http_port" CAIRN_TOKEN="$token"
wait_until 60 "the node became ready" "$cairn" store list

peak_kib() { awk '/^VmHWM/ {print $2}' "/proc/$node/status"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$node/status"; }
reset_peak() { echo 5 >"/proc/$node/clear_refs"; }

log "writing $mib files of ~1 MiB, twice each"
"$cairn" store create bench >/dev/null
# Text just under the default file_bytes_max (1 MiB), different per version.
for round in 1 2; do
    for ((i = 0; i < mib; i++)); do
        python3 -c 'import sys; line = ("round %s file %s " % (sys.argv[1], sys.argv[2])) * 4 + "\n"; sys.stdout.write(line * (1040000 // len(line)))' "$round" "$i" >"$work/content"
        "$cairn" put bench "/files/$i.md" --file "$work/content" >/dev/null
    done
done

measure() { # label command...: wall time and the CLI's peak RSS
    local label=$1
    shift
    local before_kib
    before_kib=$(rss_kib)
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null
    read -r seconds cli_kib <"$work/time"
    echo "$label: ${seconds} s, CLI peak RSS $((cli_kib / 1024)) MiB, node RSS $((before_kib / 1024)) MiB before, peak $(($(peak_kib) / 1024)) MiB"
}

reset_peak
measure "export" "$cairn" export bench "$work/bench.cairn"
archive_mib=$(($(stat -c %s "$work/bench.cairn") / 1024 / 1024))
reset_peak
measure "import" "$cairn" import "$work/bench.cairn" copy
echo "archive: ${archive_mib} MiB for $mib files x 2 versions; node RSS after $(($(rss_kib) / 1024)) MiB"
