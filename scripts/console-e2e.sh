#!/usr/bin/env bash
# The console end to end in a real headless browser.
#
#   scripts/console-e2e.sh [--cairn PATH] [--docs]
#
# Builds the debug `cairn` binary (unless --cairn names one), installs
# Debian's chromium when /usr/bin/chromium is missing (apt-get, as root or
# with sudo -n), installs the pinned playwright-core from
# tests/console/package-lock.json under target/console-e2e (npm ci), starts
# one node on loopback with an operator token, seeds a store with the CLI,
# and runs tests/console/e2e.mjs: sign in, browse, edit and save, a
# conflicting save, history and diff, the tree at a past revision, a
# rollback with its preview, a redaction, an audit filter and the hash-chain
# check, admin (user, token, grant, revoke), the cluster page, a read-only
# user refused, phone width. Screenshots go to target/console-screenshots/;
# --docs also copies them into docs/console/ (what docs/console.md shows).
# KEEP=1 keeps the node's directory.
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
trap 'finish_work $? node.log' EXIT

http_port=$(free_port)
raft_port=$(free_port)
url="http://127.0.0.1:$http_port"
token="console-operator-$$-$RANDOM$RANDOM$RANDOM"
cat >"$work/cairn.toml" <<TOML
node_id = 1
data_dir = "$work/data"
listen_http = "127.0.0.1:$http_port"
listen_raft = "127.0.0.1:$raft_port"
bootstrap = true

[auth]
admin_token = "$token"
TOML
log "starting $cairn on $url"
"$cairn" serve --config "$work/cairn.toml" >"$work/node.log" 2>&1 &
pids+=($!)
cli() {
    "$cairn" --url "$url" --token "$token" "$@"
}
wait_until 30 "the node became ready" cli whoami

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
