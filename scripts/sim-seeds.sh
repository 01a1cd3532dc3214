#!/usr/bin/env bash
# Runs seeds of the deterministic simulation in a release build, in one
# process (each seed replays alone exactly as here; see simulation/README.md),
# and fails if any seed fails a check. Every failing seed is printed with the
# command that replays it.
#
#   scripts/sim-seeds.sh                  # 50 seeds from 1 (what scripts/test.sh runs)
#   scripts/sim-seeds.sh --nightly        # 10,000 seeds, new ones each day
#   scripts/sim-seeds.sh --seeds N --first K
set -euo pipefail
cd "$(dirname "$0")/.."

seeds=50
first=1
while (($#)); do
    case $1 in
        --seeds) seeds=$2; shift 2 ;;
        --first) first=$2; shift 2 ;;
        # A day's batch starts at the date, so each night explores seeds no
        # night before did, and a failure names a seed anyone can replay.
        --nightly) seeds=10000; first="$(date -u +%Y%m%d)0000"; shift ;;
        *) echo "usage: $0 [--seeds N] [--first K] [--nightly]" >&2; exit 2 ;;
    esac
done

echo "== simulation: seeds $first..$((first + seeds - 1)) (release, in one process)" >&2
cargo run --release --locked --quiet -p cairn-simulation -- \
    --seeds "$seeds" --first "$first" --in-process
