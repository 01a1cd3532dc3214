# shellcheck shell=bash
# Helpers shared by the benchmark scripts; sourced, not run.

# A TCP port on 127.0.0.1 that nothing listens on now and that this script
# has not handed out before. Not reserved: another process could take it
# between here and the bind, which on a quiet machine does not happen. Drawn
# below Linux's ephemeral range (32768 and up by default), where outgoing
# connections take their local ports and would make the bind fail.
declare -A _ports_taken=()
free_port() {
    local port
    while true; do
        port=$((20000 + RANDOM % 12000))
        [[ -n "${_ports_taken[$port]:-}" ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            _ports_taken[$port]=1
            echo "$port"
            return
        fi
    done
}

# wait_until SECONDS DESCRIPTION COMMAND...: runs COMMAND every 0.2 s until
# it succeeds; fails after SECONDS.
wait_until() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            echo "error: $what did not happen within ${seconds}s" >&2
            return 1
        fi
        sleep 0.2
    done
}

log() {
    echo "== $*" >&2
}

# stop_pids: stops every process in the caller's `pids` array and waits for it.
stop_pids() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}

# finish_work STATUS LOG_GLOB: the EXIT trap's work. On failure shows the last
# lines of the logs under `$work` matching LOG_GLOB; stops `pids`; removes
# `$work` unless KEEP=1.
# shellcheck disable=SC2154 # `work` and `pids` belong to the sourcing script
finish_work() {
    local status=$1 logs=$2
    if ((status != 0)); then
        log "failed (exit $status); last lines of the logs:"
        # shellcheck disable=SC2086 # LOG_GLOB is a glob
        tail -n 15 "$work"/$logs >&2 2>/dev/null || true
    fi
    stop_pids
    if [[ ${KEEP:-0} == 1 ]]; then
        log "kept $work"
    else
        rm -rf "$work"
    fi
}
