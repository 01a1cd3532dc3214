#!/usr/bin/env bash
# Runs `cairn bench --target etcd` against a 3-member etcd cluster on
# loopback, for comparison with Cairn under the same load: CAS writes (range,
# then a txn comparing mod_revision) and linearizable reads of 1 KiB values,
# through etcd's v3 JSON gateway. fsync stays on, as in Cairn.
#
# usage: scripts/etcd-bench.sh [--cairn PATH] [--duration S] [--clients LIST]
#                              [--json-out FILE] [-- extra cairn bench flags]
#
# Installs Debian's etcd-server and etcd-client when `etcd` is not on PATH
# (needs root and the Debian package registry). Data lives in a temporary
# directory, removed at the end (KEEP=1 keeps it, with the members' logs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

cairn=${CAIRN:-}
duration=10
clients=1,16,64,256
json_out=
extra=()
while (($#)); do
    case $1 in
        --cairn) cairn=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --clients) clients=$2; shift 2 ;;
        --json-out) json_out=$2; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "usage: $0 [--cairn PATH] [--duration S] [--clients LIST] [--json-out FILE] [-- flags]" >&2; exit 2 ;;
    esac
done

if [[ -z $cairn ]]; then
    log "building cairn (release)"
    (cd "$root" && cargo build --release --quiet -p cairn)
    cairn="${CARGO_TARGET_DIR:-$root/target}/release/cairn"
fi

if ! command -v etcd >/dev/null 2>&1; then
    log "installing etcd-server and etcd-client from Debian"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends etcd-server etcd-client; then
        apt-get update || { echo "error: apt-get cannot reach the package registry" >&2; exit 3; }
        apt-get install -y --no-install-recommends etcd-server etcd-client
    fi
fi
# Not `| head -n1`: under pipefail, etcd's SIGPIPE would end the script.
etcd_version=$(etcd --version 2>/dev/null || true)
etcd_version=${etcd_version%%$'\n'*}
log "using $etcd_version"

work=$(mktemp -d -t etcd-bench.XXXXXX)
pids=()
cleanup() {
    finish_work $? 'e*.log'
}
trap cleanup EXIT

client_ports=()
peer_ports=()
initial_cluster=
for member in 1 2 3; do
    client_ports+=("$(free_port)")
    peer_ports+=("$(free_port)")
    initial_cluster+="${initial_cluster:+,}e$member=http://127.0.0.1:${peer_ports[-1]}"
done

urls=()
for member in 1 2 3; do
    client_url="http://127.0.0.1:${client_ports[member - 1]}"
    peer_url="http://127.0.0.1:${peer_ports[member - 1]}"
    urls+=("$client_url")
    # Defaults otherwise, like Cairn's: fsync on every commit, 100 ms
    # heartbeats, snapshots by count.
    etcd --name "e$member" \
        --data-dir "$work/e$member" \
        --listen-client-urls "$client_url" \
        --advertise-client-urls "$client_url" \
        --listen-peer-urls "$peer_url" \
        --initial-advertise-peer-urls "$peer_url" \
        --initial-cluster "$initial_cluster" \
        --initial-cluster-token "etcd-bench-$$" \
        --initial-cluster-state new \
        --logger zap --log-level warn \
        >"$work/e$member.log" 2>&1 &
    pids+=("$!")
done
log "etcd members at ${urls[*]} (data in $work)"

endpoints=$(IFS=,; echo "${urls[*]}")
wait_until 60 "etcd cluster healthy" env ETCDCTL_API=3 etcdctl --endpoints "$endpoints" endpoint health
ETCDCTL_API=3 etcdctl --endpoints "$endpoints" endpoint status -w table >&2

url_flags=()
for url in "${urls[@]}"; do
    url_flags+=(--url "$url")
done
log "cairn bench --target etcd --clients $clients --duration $duration"
result=$("$cairn" bench --target etcd "${url_flags[@]}" --clients "$clients" \
    --duration "$duration" --value-bytes 1024 --json "${extra[@]}")
if [[ -n $json_out ]]; then
    printf '%s\n' "$result" >"$json_out"
fi
printf '%s\n' "$result" >"$work/etcd.json"
"$cairn" bench-report "$work/etcd.json"
