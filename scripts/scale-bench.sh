#!/usr/bin/env bash
# Scale on one node (issue 12): for each file count, a fresh node is loaded
# with that many files of 1 KiB in one store (`cairn bench`, 256 files per
# transaction), then measured: CAS and linearizable GET percentiles, resident
# memory, bytes on disk (per file, against the content written), restart to
# ready, and the time a new node takes to catch up with it: added as a
# learner, until it applied the leader's last index (by snapshot when the
# leader's log was purged behind one, else by log; the row says which).
# With --stores N, one more row: N stores of --store-files files each (made
# before the load), the clients' GETs and CASes spread over every file.
#
# usage: scripts/scale-bench.sh [--files LIST] [--stores N] [--store-files F]
#                               [--duration S] [--clients N] [--out DIR]
#                               [--cairn PATH] [--no-snapshots]
#
# --no-snapshots raises both snapshot bounds (`[raft]
# snapshot_log_bytes_since_last`, `snapshot_logs_since_last`) so that no
# snapshot is built during the run: the GET and CAS percentiles then show
# what the data's size costs without a build's export running beside them
# (the catch-up then goes by a snapshot built when the leader is asked for
# one, or by the log; the row says which).
#
# Defaults: --files 10000 (none when only --stores is given) --store-files 10
# --duration 8 --clients 16. A million files takes
# a while (the load alone is minutes): run it in the background with `nice`.
# Writes scale-<N>.json (what `cairn bench --json` printed), scale.json (one
# object per file count with every figure) and scale.md (the Markdown table)
# under --out (default target/bench/scale-<time>). KEEP=1 keeps the nodes'
# data and logs.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

files_list=
stores=0
store_files=10
duration=8
clients=16
value_bytes=1024
raft_settings=
out="$root/target/bench/scale-$(date +%Y%m%d-%H%M%S)"
cairn=
while (($#)); do
    case $1 in
        --files) files_list=$2; shift 2 ;;
        --stores) stores=$2; shift 2 ;;
        --store-files) store_files=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --clients) clients=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --cairn) cairn=$2; shift 2 ;;
        --no-snapshots)
            raft_settings=$'\n[raft]\nsnapshot_log_bytes_since_last = 1099511627776\nsnapshot_logs_since_last = 1000000000'
            shift ;;
        *) echo "usage: $0 [--files LIST] [--stores N] [--store-files F] [--duration S] [--clients N] [--out DIR] [--cairn PATH] [--no-snapshots]" >&2; exit 2 ;;
    esac
done
if [[ -z $files_list ]] && ((stores == 0)); then
    files_list=10000
fi
# One case per row: FILES:STORES.
cases=()
for files in ${files_list//,/ }; do
    cases+=("$files:1")
done
if ((stores > 0)); then
    cases+=("$((stores * store_files)):$stores")
fi
mkdir -p "$out"

if [[ -z $cairn ]]; then
    log "building cairn (release)"
    (cd "$root" && cargo build --release --quiet -p cairn)
    cairn="${CARGO_TARGET_DIR:-$root/target}/release/cairn"
fi

work=$(mktemp -d -t cairn-scale.XXXXXX)
pids=()
cleanup() {
    finish_work $? '*/node*.log'
}
trap cleanup EXIT

CAIRN_TOKEN="scale-bench-operator-$$-$RANDOM$RANDOM"
export CAIRN_TOKEN

now() { date +%s.%N; }
seconds_since() { python3 -c "import sys; print(round($(now) - float(sys.argv[1]), 3))" "$1"; }

# node_config DIR ID BOOTSTRAP FILES STORES: writes DIR/nodeID.toml; prints the HTTP URL.
node_config() {
    local dir=$1 id=$2 bootstrap=$3 files=$4 stores=$5
    local http_port raft_port
    http_port=$(free_port)
    raft_port=$(free_port)
    cat >"$dir/node$id.toml" <<TOML
node_id = $id
data_dir = "$dir/node$id"
listen_http = "127.0.0.1:$http_port"
listen_raft = "127.0.0.1:$raft_port"
bootstrap = $bootstrap
cluster_secret = "scale-bench-$$"

[limits]
files_per_store_max = $((files + 1000))
stores_max = $((stores + 10))

[auth]
admin_token = "$CAIRN_TOKEN"
$raft_settings
TOML
    echo "http://127.0.0.1:$http_port"
}

ready() { "$cairn" --url "$1" --timeout-ms 1000 cluster status >/dev/null && curl -fsS "$1/ready" >/dev/null; }
status_field() {
    "$cairn" --url "$1" --json --timeout-ms 2000 cluster status |
        python3 -c "import json,sys; v=json.load(sys.stdin)['queried'].get('$2'); print(v if v is not None else 0)"
}
applied_at_least() { (($(status_field "$1" last_applied) >= $2)); }
proc_kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }
# bytes_of PATH: the bytes PATH takes on disk (allocated blocks, not the
# apparent size: redb grows its file ahead of use, and a file's unwritten
# tail takes no blocks).
bytes_of() { if [[ -e $1 ]]; then du -s -B1 "$1" | cut -f1; else echo 0; fi; }
# files_bytes PATTERN...: the bytes of the files matching (the state's
# content files state.redb.content-N, the log's segments raft-log.seg-N).
files_bytes() {
    local total=0 file
    for file in "$@"; do
        [[ -e $file ]] && total=$((total + $(bytes_of "$file")))
    done
    echo "$total"
}
# disk_json DIR: a node's bytes on disk, whole and per file, as JSON.
disk_json() {
    printf '{"total": %s, "state": %s, "content": %s, "log": %s, "snapshots": %s}' \
        "$(bytes_of "$1")" "$(bytes_of "$1/state.redb")" "$(files_bytes "$1"/state.redb.content-*)" \
        "$(files_bytes "$1"/raft-log.seg-*)" "$(bytes_of "$1/snapshots")"
}
results=()
for case in "${cases[@]}"; do
    files=${case%%:*}
    case_stores=${case##*:}
    bench_args=()
    if ((case_stores > 1)); then
        bench_args=(--stores "$case_stores" --spread)
    fi
    dir="$work/$files-$case_stores"
    mkdir -p "$dir"
    url=$(node_config "$dir" 1 true "$files" "$case_stores")
    "$cairn" serve --config "$dir/node1.toml" >"$dir/node1.log" 2>&1 &
    pid=$!
    pids=("$pid")
    wait_until 60 "node answering" ready "$url"

    log "$files files in $case_stores stores: load and measure (cairn bench --files $files --clients $clients ${bench_args[*]})"
    "$cairn" bench --url "$url" --files "$files" --clients "$clients" --duration "$duration" \
        --value-bytes "$value_bytes" "${bench_args[@]}" --json >"$out/scale-$files-$case_stores.json"
    rss_kib=$(proc_kib "$pid" VmRSS)
    hwm_kib=$(proc_kib "$pid" VmHWM)
    disk_bytes=$(bytes_of "$dir/node1")
    disk=$(disk_json "$dir/node1")
    applied=$(status_field "$url" last_applied)
    leader_snapshot=$(status_field "$url" snapshot_index)
    leader_purged=$(status_field "$url" purged_index)

    log "$files files: restart to ready"
    kill "$pid"
    wait "$pid" || true
    started=$(now)
    "$cairn" serve --config "$dir/node1.toml" >>"$dir/node1.log" 2>&1 &
    pid=$!
    pids=("$pid")
    wait_until 600 "node ready after restart" ready "$url"
    restart_s=$(seconds_since "$started")
    rss_restarted_kib=$(proc_kib "$pid" VmRSS)
    # The restarted node must hold what it held before.
    wait_until 60 "applied index back to $applied" applied_at_least "$url" "$applied"

    log "$files files: a new node catches up"
    url2=$(node_config "$dir" 2 false "$files" "$case_stores")
    "$cairn" serve --config "$dir/node2.toml" >"$dir/node2.log" 2>&1 &
    pids+=("$!")
    wait_until 60 "node 2 answering" "$cairn" --url "$url2" --timeout-ms 1000 cluster status
    target=$(status_field "$url" last_applied)
    started=$(now)
    "$cairn" --url "$url" --timeout-ms 60000 cluster add-learner "$url2" >/dev/null
    wait_until 1200 "node 2 applied $target" applied_at_least "$url2" "$target"
    catch_up_s=$(seconds_since "$started")
    snapshot_index=$(status_field "$url2" snapshot_index)
    disk2_bytes=$(bytes_of "$dir/node2")
    disk_end=$(disk_json "$dir/node1")
    stop_pids

    result=$(python3 - "$out/scale-$files-$case_stores.json" <<PY
import json, sys
bench = json.load(open(sys.argv[1]))
def p99(workload):
    for phase in bench["phases"]:
        if phase["workload"] == workload and phase["latency"]:
            return phase["latency"]["p99_ms"]
    return None
def p50(workload):
    for phase in bench["phases"]:
        if phase["workload"] == workload and phase["latency"]:
            return phase["latency"]["p50_ms"]
    return None
def ops(workload):
    return sum(phase["ops"] for phase in bench["phases"] if phase["workload"] == workload)
load = bench.get("loads", [{}])[0]
print(json.dumps({
    "files": $files,
    "stores": $case_stores,
    "stores_created_s": load.get("stores_created_s"),
    "value_bytes": $value_bytes,
    "content_bytes": $files * $value_bytes,
    # Every version written and kept: the load's, then one per CAS.
    "history_bytes": ($files + ops("cas")) * $value_bytes,
    "load_s": load.get("elapsed_s"),
    "get_p50_ms": p50("read"), "get_p99_ms": p99("read"),
    "cas_p50_ms": p50("cas"), "cas_p99_ms": p99("cas"),
    "rss_kib": $rss_kib, "rss_peak_kib": $hwm_kib, "rss_after_restart_kib": $rss_restarted_kib,
    "disk_bytes": $disk_bytes, "disk": $disk, "disk_at_end": $disk_end,
    "leader_snapshot_index": $leader_snapshot, "leader_purged_index": $leader_purged,
    "restart_to_ready_s": $restart_s,
    "catch_up_s": $catch_up_s, "catch_up_disk_bytes": $disk2_bytes,
    "catch_up_snapshot_index": $snapshot_index,
    "catch_up_by": "snapshot" if $snapshot_index > 0 else "log",
    "applied_index": $applied,
}))
PY
)
    echo "$result"
    results+=("$result")
done

printf '%s\n' "${results[@]}" >"$work/results.jsonl"
python3 - "$work/results.jsonl" "$out/scale.json" "$out/scale.md" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
json.dump(rows, open(sys.argv[2], "w"), indent=2)
def mib(value):
    return "{:,.0f} MiB".format(value / 1048576)
def ms(value):
    return "-" if value is None else "{:.2f} ms".format(value)
lines = [
    "| files (stores) | load | GET p99 | CAS p99 | resident (peak) | on disk: state + content + log + snapshot (versions written) | restart to ready | new node caught up |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for r in rows:
    disk = r["disk"]
    lines.append("| {:,} ({:,}) | {:.1f} s | {} | {} | {} ({}) | {} = {} + {} + {} + {} ({}) | {:.2f} s | {:.2f} s by {} |".format(
        r["files"], r["stores"], r["load_s"], ms(r["get_p99_ms"]), ms(r["cas_p99_ms"]),
        mib(r["rss_kib"] * 1024), mib(r["rss_peak_kib"] * 1024),
        mib(disk["total"]), mib(disk["state"]), mib(disk.get("content", 0)), mib(disk["log"]), mib(disk["snapshots"]),
        mib(r["history_bytes"]),
        r["restart_to_ready_s"], r["catch_up_s"], r["catch_up_by"]))
open(sys.argv[3], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
log "results in $out"
