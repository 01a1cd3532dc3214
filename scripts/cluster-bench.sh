#!/usr/bin/env bash
# Benchmarks a 3-node Cairn cluster on loopback, then a 3-member etcd
# cluster under the same load (scripts/etcd-bench.sh), and prints both side
# by side.
#
# usage: scripts/cluster-bench.sh [--duration S] [--clients LIST] [--no-etcd]
#                                 [--repeat N] [--out DIR] [--cairn PATH]
#
# --repeat N runs the whole comparison N times, Cairn then etcd each time,
# each on fresh clusters; the table gives each phase's median throughput
# and median p99 over the runs, and lists every run under it (one run's
# p99 moves a lot from sitting to sitting).
#
# --cairn runs that binary instead of building this tree's release build
# (to measure an older build against a newer one in the same sitting).
#
# Node 1 bootstraps; nodes 2 and 3 start empty and join with
# `cairn cluster add-learner` and `cairn cluster promote`. Every node gets a
# temporary data directory and free ports; all of it is removed at the end
# (KEEP=1 keeps it, with the nodes' logs). The JSON results stay in --out
# (default target/bench/<time>): cairn.json, etcd.json, and report.md, the
# Markdown table docs/benchmarks.md records (ratios and p99 side by side).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

duration=10
clients=1,16,64,256
run_etcd=1
repeat=1
out="$root/target/bench/$(date +%Y%m%d-%H%M%S)"
cairn=
while (($#)); do
    case $1 in
        --duration) duration=$2; shift 2 ;;
        --clients) clients=$2; shift 2 ;;
        --no-etcd) run_etcd=0; shift ;;
        --repeat) repeat=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --cairn) cairn=$2; shift 2 ;;
        *) echo "usage: $0 [--duration S] [--clients LIST] [--no-etcd] [--repeat N] [--out DIR] [--cairn PATH]" >&2; exit 2 ;;
    esac
done
if ! [[ $repeat =~ ^[1-9][0-9]*$ ]]; then
    echo "--repeat takes a count of runs, 1 or more" >&2
    exit 2
fi
mkdir -p "$out"

if [[ -z $cairn ]]; then
    log "building cairn (release)"
    (cd "$root" && cargo build --release --quiet -p cairn)
    cairn="${CARGO_TARGET_DIR:-$root/target}/release/cairn"
fi

work=$(mktemp -d -t cairn-bench.XXXXXX)
pids=()
cleanup() {
    finish_work $? 'run*/node*.log'
}
trap cleanup EXIT

# run_cairn JSON_OUT RUN_DIR: a fresh 3-node cluster in RUN_DIR, benchmarked
# into JSON_OUT, then stopped.
run_cairn() {
    local json_out=$1 run_dir=$2
    mkdir -p "$run_dir"
    local regions=(eu-west us-east ap-south)
    local urls=() url_flags=() node http_port raft_port bootstrap url
    # Every node is given the operator's token; the CLI and the bench present it.
    CAIRN_TOKEN="cluster-bench-operator-$$-$RANDOM$RANDOM"
    export CAIRN_TOKEN
    urls=()
    for node in 1 2 3; do
        http_port=$(free_port)
        raft_port=$(free_port)
        bootstrap=false
        [[ $node == 1 ]] && bootstrap=true
        cat >"$run_dir/node$node.toml" <<TOML
node_id = $node
data_dir = "$run_dir/node$node"
listen_http = "127.0.0.1:$http_port"
listen_raft = "127.0.0.1:$raft_port"
bootstrap = $bootstrap
cluster_secret = "cluster-bench-$$"

[tags]
region = "${regions[node - 1]}"

[auth]
admin_token = "$CAIRN_TOKEN"
TOML
        "$cairn" serve --config "$run_dir/node$node.toml" >"$run_dir/node$node.log" 2>&1 &
        pids+=("$!")
        urls+=("http://127.0.0.1:$http_port")
    done
    log "cairn nodes at ${urls[*]} (data in $run_dir)"

    for url in "${urls[@]}"; do
        wait_until 30 "$url answering" "$cairn" --url "$url" --timeout-ms 1000 cluster status
    done
    # Nodes 2 and 3 belong to no cluster yet, so the only leader can be node 1.
    has_leader() {
        local status
        status=$("$cairn" --url "$1" --json --timeout-ms 1000 cluster status)
        [[ $status == *'"state": "Leader"'* ]]
    }
    wait_until 30 "node 1 leading" has_leader "${urls[0]}"

    for node in 2 3; do
        "$cairn" --url "${urls[0]}" cluster add-learner "${urls[node - 1]}"
        "$cairn" --url "${urls[0]}" cluster promote "$node"
    done
    "$cairn" --url "${urls[0]}" cluster status

    url_flags=()
    for url in "${urls[@]}"; do
        url_flags+=(--url "$url")
    done
    log "cairn bench --clients $clients --duration $duration (3 nodes)"
    "$cairn" bench "${url_flags[@]}" --clients "$clients" --duration "$duration" \
        --value-bytes 1024 --json >"$json_out"
    "$cairn" --url "${urls[0]}" cluster status
    stop_pids
}

results=()
for ((run = 1; run <= repeat; run++)); do
    suffix=
    if ((repeat > 1)); then
        suffix="-$run"
        log "run $run of $repeat"
    fi
    run_cairn "$out/cairn$suffix.json" "$work/run$run"
    results+=("$out/cairn$suffix.json")
    if ((run_etcd)); then
        # Cairn is stopped first so that etcd has the machine to itself, as Cairn had.
        "$root/scripts/etcd-bench.sh" --cairn "$cairn" --duration "$duration" \
            --clients "$clients" --json-out "$out/etcd$suffix.json"
        results+=("$out/etcd$suffix.json")
    fi
done

echo
echo "== Cairn vs etcd: 3 members on loopback, ${duration}s per phase, 1 KiB values"
"$cairn" bench-report "${results[@]}"
"$cairn" bench-report --markdown "${results[@]}" >"$out/report.md"
echo
cat "$out/report.md"
log "results in $out"
