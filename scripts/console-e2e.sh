#!/usr/bin/env bash
# The console end to end in a real headless browser.
#
#   scripts/console-e2e.sh [--cairn PATH] [--docs]
#
# Builds the debug `cairn` binary (unless --cairn names one), installs
# Debian's chromium when /usr/bin/chromium is missing (apt-get, as root or
# with sudo -n), installs the pinned playwright-core from
# tests/console/package-lock.json under target/console-e2e (npm ci), starts
# three nodes on loopback with an operator token (node 1 leads, node 2 votes,
# node 3 is a learner; the browser talks to node 1), seeds a store with the CLI,
# and runs tests/console/e2e.mjs: sign in, browse, edit and save, a
# conflicting save, history and diff, the tree at a past revision, a
# rollback with its preview, a redaction, an audit filter and the hash-chain
# check, admin (user, token, grant, revoke), the cluster page, a read-only
# user refused, phone width. Screenshots go to target/console-screenshots/;
# --docs also copies them into docs/console/ (what docs/console.md shows).
# KEEP=1 keeps the nodes' directory.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

cairn=""
docs=0
while (($#)); do
    case $1 in
    --cairn) cairn=$2 && shift ;;
    --docs) docs=1 ;;
    *)
        echo "usage: $0 [--cairn PATH] [--docs]" >&2
        exit 2
        ;;
    esac
    shift
done

chromium=/usr/bin/chromium
if [[ ! -x $chromium ]]; then
    log "installing Debian's chromium"
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo -n"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

# playwright-core, pinned by tests/console/package-lock.json, under target/.
playwright_dir=target/console-e2e
if ! cmp -s tests/console/package-lock.json "$playwright_dir/package-lock.json" ||
    [[ ! -d $playwright_dir/node_modules/playwright-core ]]; then
    log "installing playwright-core into $playwright_dir"
    mkdir -p "$playwright_dir"
    cp tests/console/package.json tests/console/package-lock.json "$playwright_dir/"
    (cd "$playwright_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

if [[ -z $cairn ]]; then
    cargo build --quiet --locked -p cairn
    cairn=target/debug/cairn
fi
cairn=$(realpath "$cairn")

work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-console.XXXXXX")
pids=()
trap 'finish_work $? "node*.log"' EXIT

# Three nodes: node 1 (the one the browser talks to) leads, node 2 is a
# voter and node 3 a learner, so the cluster page has every role to show.
token="console-operator-$$-$RANDOM$RANDOM$RANDOM"
urls=()
for n in 1 2 3; do
    http_port=$(free_port)
    raft_port=$(free_port)
    urls+=("http://127.0.0.1:$http_port")
    bootstrap=false
    ((n == 1)) && bootstrap=true
    cat >"$work/node$n.toml" <<TOML
node_id = $n
data_dir = "$work/node$n"
listen_http = "127.0.0.1:$http_port"
listen_raft = "127.0.0.1:$raft_port"
bootstrap = $bootstrap
cluster_secret = "console-e2e-secret"

[tags]
region = "region-$n"

[auth]
admin_token = "$token"
TOML
    "$cairn" serve --config "$work/node$n.toml" >"$work/node$n.log" 2>&1 &
    pids+=($!)
done
url=${urls[0]}
log "started $cairn: ${urls[*]}"
cli() {
    "$cairn" --url "$url" --token "$token" "$@"
}
wait_until 30 "node 1 became ready" cli whoami
for n in 2 3; do
    wait_until 30 "node $n answered" "$cairn" --url "${urls[n - 1]}" --token "$token" cluster status
    cli cluster add-learner "${urls[n - 1]}" >/dev/null
done
cli cluster promote 2 >/dev/null

log "seeding store notes"
store=notes
cli store create "$store" >/dev/null
put() { # PATH AGENT SESSION CONTENT
    printf '%s' "$4" | cli --agent "$2" --session "$3" put "$store" "$1" >/dev/null
}
put /memories/customer-acme/preferences.md agent-a session-1 $'# Acme preferences\n\nPrefers short answers.\n'
put /memories/customer-acme/contacts.md agent-a session-1 $'Main contact: Dana.\nAPI key: SECRET-TOKEN-123\n'
put /memories/projects/roadmap.md agent-b session-2 $'Q1: migrate to Cairn.\n'
put /readme.md agent-b session-2 $'Memories of the support agents.\n'
put /memories/customer-acme/preferences.md agent-b session-2 $'# Acme preferences\n\nPrefers short answers.\nTime zone: CET.\n'
# A directory of 300 files, in two transactions (at most 256 ops each): the
# tree shows 200, then more.
for half in 0 150; do
    {
        printf '{"ops":['
        for i in $(seq "$half" $((half + 149))); do
            ((i > half)) && printf ','
            printf '{"op":"write","path":"/bulk/file-%04d.md","content":"bulk file %d\\n"}' "$i" "$i"
        done
        printf ']}'
    } >"$work/bulk.json"
    cli --agent bulk-loader --session session-3 txn "$store" "$work/bulk.json" >/dev/null
done
# A member of the organization reads its stores and may not write them.
cli user create default reader --role member >/dev/null
cli grant "$store" reader read >/dev/null
reader_token=$(cli token create default reader)

log "running tests/console/e2e.mjs in $chromium"
rm -rf target/console-screenshots
CAIRN_URL=$url OPERATOR_TOKEN=$token READER_TOKEN=$reader_token STORE=$store \
    PLAYWRIGHT_DIR=$(realpath "$playwright_dir") SCREENSHOTS=$(realpath -m target/console-screenshots) \
    CHROMIUM=$chromium node tests/console/e2e.mjs

if ((docs)); then
    mkdir -p docs/console
    cp target/console-screenshots/*.png docs/console/
    rm -f docs/console/failure-*.png
    log "copied the screenshots into docs/console/"
fi
