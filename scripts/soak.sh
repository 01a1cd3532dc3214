#!/usr/bin/env bash
# The kill -9 soak for a set time: three real `cairn` nodes on loopback (free
# ports, temporary data directories) under CAS increments and blind writes
# from nine clients through every node, while a nemesis kill -9s the leader,
# a follower or two nodes at once (and restarts them) and SIGSTOPs one; then
# it heals the cluster and checks that every acknowledged write is on every
# node at its version, that the digests are equal and that no answer
# contradicts another, prints the counts, and exits non-zero on any
# violation. The test is tests/soak/ (not part of `cargo test`).
#
#   scripts/soak.sh [--minutes N] [--seed S] [--tmpfs] [--disk-full] [--keep]
#
# --minutes defaults to 10. --seed replays a fault schedule (the soak prints
# its seed). --tmpfs puts the data directories under /dev/shm. --disk-full
# (root only) puts each node's data directory on a 32 MiB tmpfs and adds a
# fault that fills one to its limit and empties it again. --keep leaves the
# nodes' directories and logs for a post-mortem. The whole run is bounded:
# the soak itself, plus five minutes for starting the cluster and the final
# checks (building comes before, outside the bound).
#
# Tokens: the soak takes node 1's `<data_dir>/admin.token` once the server
# writes one, else `CAIRN_TOKEN` (see scripts/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=10
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="${2:-}"; shift 2 ;;
    --seed) export CAIRN_SOAK_SEED="${2:-}"; shift 2 ;;
    --tmpfs) export TMPDIR=/dev/shm; shift ;;
    --disk-full) export CAIRN_SOAK_DISK_FULL=1; shift ;;
    --keep) export CAIRN_SOAK_KEEP=1; shift ;;
    *) echo "usage: scripts/soak.sh [--minutes N] [--seed S] [--tmpfs] [--disk-full] [--keep]" >&2; exit 2 ;;
  esac
done
case "$minutes" in
  ''|*[!0-9]*|0) echo "--minutes wants a positive whole number, not '$minutes'" >&2; exit 2 ;;
esac

export CAIRN_SOAK_SECONDS=$((minutes * 60))
# The cairn binary and the soak's test binary are built first, outside the
# time bound of the soak itself.
cargo build --locked -p cairn --bin cairn
cargo test --locked -p cairn-tests --test soak --no-run
timeout --kill-after=30 $((CAIRN_SOAK_SECONDS + 300)) \
  cargo test --locked -p cairn-tests --test soak -- \
  --exact soak_under_kills_and_pauses_loses_no_acknowledged_write --nocapture
