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
