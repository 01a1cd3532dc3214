#!/usr/bin/env bash
# The whole test suite, as README.md gives it and .ci/run runs it: every
# crate's unit tests, the integration tests on the real binary (tests/), the
# simulation's seeds, then a bounded Schemathesis run of the HTTP API against
# its OpenAPI document (scripts/fuzz-api.sh; it installs its own Python venv
# under target/ on first use), then a one-minute kill -9 soak of a 3-node
# cluster on real processes (scripts/soak.sh; `--minutes 10` for the long one;
# as root, with full disks too: each node's data directory on a small tmpfs),
# then 50 seeds of the simulation in a release build (scripts/sim-seeds.sh;
# `--nightly` runs 10,000 new ones), then the console end to end in headless
# Chromium (scripts/console-e2e.sh; it installs Debian's chromium and the
# pinned playwright-core under target/ on first use).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --locked
scripts/memory-tool-compare.sh
scripts/fuzz-api.sh
if [ "$(id -u)" -eq 0 ]; then
  scripts/soak.sh --minutes 1 --disk-full
else
  scripts/soak.sh --minutes 1
fi
scripts/sim-seeds.sh --seeds 50
scripts/console-e2e.sh
