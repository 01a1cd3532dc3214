#!/usr/bin/env bash
# Starts a local three-node Cairn cluster on loopback, from the repository root:
#
#   config/cluster-3/start.sh         # build, start nodes 1-3, join 2 and 3, show status
#   config/cluster-3/start.sh stop    # stop them (data stays in ./cairn-cluster-3)
#   config/cluster-3/start.sh tls     # the same with TLS (config/cluster-3/tls/, data and
#   config/cluster-3/start.sh tls stop  # certificates in ./cairn-cluster-3-tls)
#
# Node N serves HTTP on 127.0.0.1:77N0 and Raft on 127.0.0.1:77N1.
set -euo pipefail
cd "$(dirname "$0")/../.."
STATE=./cairn-cluster-3
CONFIGS=config/cluster-3
SCHEME=http
if [[ "${1:-}" == "tls" ]]; then
    shift
    STATE=./cairn-cluster-3-tls
    CONFIGS=config/cluster-3/tls
    SCHEME=https
    # The CLI below (and yours) trusts the local CA.
    export CAIRN_CA_FILE="$STATE/certs/ca.pem"
fi
mkdir -p "$STATE"

if [[ "${1:-}" == "stop" ]]; then
    for pid_file in "$STATE"/node*.pid; do
        [[ -e "$pid_file" ]] || continue
        kill "$(cat "$pid_file")" 2>/dev/null || true
        rm -f "$pid_file"
    done
    echo "stopped"
    exit 0
fi

cargo build --release --locked -p cairn
CAIRN=./target/release/cairn
if [[ "$SCHEME" == "https" && ! -s "$STATE/certs/ca.pem" ]]; then
    config/cluster-3/make-certs.sh "$STATE/certs"
fi

for n in 1 2 3; do
    if [[ -e "$STATE/node$n.pid" ]] && kill -0 "$(cat "$STATE/node$n.pid")" 2>/dev/null; then
        echo "node $n already running"
        continue
    fi
    RUST_LOG="${RUST_LOG:-info,openraft=warn}" "$CAIRN" serve --config "$CONFIGS/node$n.toml" \
        >>"$STATE/node$n.log" 2>&1 &
    echo $! >"$STATE/node$n.pid"
done

wait_for() {
    for _ in $(seq 1 100); do
        if "$CAIRN" --url "$1" cluster status >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "no answer from $1; see $STATE/node*.log" >&2
    exit 1
}
# Node 1 bootstraps the cluster and writes the operator's token into its
# data dir on its first start; everything below (and you) use it.
for _ in $(seq 1 100); do
    [[ -s "$STATE/node1/admin.token" ]] && break
    sleep 0.1
done
CAIRN_TOKEN=$(cat "$STATE/node1/admin.token")
export CAIRN_TOKEN
wait_for "$SCHEME://127.0.0.1:7710"

# Joining is idempotent enough to re-run: an existing member is reported, not changed.
for n in 2 3; do
    wait_for "$SCHEME://127.0.0.1:77${n}0" || true
    "$CAIRN" --url "$SCHEME://127.0.0.1:7710" cluster add-learner "$SCHEME://127.0.0.1:77${n}0" || true
    "$CAIRN" --url "$SCHEME://127.0.0.1:7710" cluster promote "$n" || true
done
"$CAIRN" --url "$SCHEME://127.0.0.1:7710" cluster status
echo
echo "export CAIRN_URL=$SCHEME://127.0.0.1:7720   # any node serves any request"
echo "export CAIRN_TOKEN=\$(cat $STATE/node1/admin.token)   # the operator's token"
if [[ "$SCHEME" == "https" ]]; then
    echo "export CAIRN_CA_FILE=$CAIRN_CA_FILE"
fi
