#!/usr/bin/env bash
# The whole test suite, as README.md gives it and .ci/run runs it: every
# crate's unit tests, the integration tests on the real binary (tests/), the
# simulation's seeds, then a bounded Schemathesis run of the HTTP API against
# its OpenAPI document (scripts/fuzz-api.sh; it installs its own Python venv
# under target/ on first use).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --locked
scripts/fuzz-api.sh
