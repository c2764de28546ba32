#!/usr/bin/env bash
# MCP conformance: the official suite (@modelcontextprotocol/conformance) against a real gateway.
#
# Starts retrieval and the gateway on free loopback ports (in-process cache only: the scenarios never reach
# Redis), waits for both /ready, then runs each scenario that applies to an arbitrary server. Exits non-zero if a
# scenario fails or anything cannot start, printing which and the services' logs. The suite needs Node >= 22;
# `npx -p node@22` fetches one from npm, so only node/npm (any version) must be installed.
#
#   .ci/conformance.sh                  # uses `python` from PATH (CI activates .venv first)
#   PYTHON=.venv/bin/python .ci/conformance.sh
#   CONFORMANCE_SCENARIOS="ping tools-list" .ci/conformance.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python}"
SUITE="@modelcontextprotocol/conformance@0.1.16"
SCENARIOS="${CONFORMANCE_SCENARIOS:-server-initialize ping tools-list dns-rebinding-protection}"
READY_TIMEOUT_S=60
SCENARIO_TIMEOUT_S=180

# Quiet, non-interactive npm: no update notice, no funding/audit chatter, no engine warnings from the outer npx.
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false npm_config_loglevel=error

work="$(mktemp -d "${TMPDIR:-/tmp}/pp-conformance.XXXXXX")"
pids=()

say() { printf 'conformance: %s\n' "$*" >&2; }

show_logs() {
    for log in "$work"/*.log; do
        [[ -f "$log" ]] || continue
        say "--- last lines of $(basename "$log")"
        tail -n 40 "$log" >&2 || true
    done
}

cleanup() {
    local status=$?
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ $status -ne 0 ]]; then show_logs; fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_ready NAME PID URL: until URL answers 200, failing at once if PID dies and after READY_TIMEOUT_S.
wait_ready() {
    local name=$1 pid=$2 url=$3 deadline=$((SECONDS + READY_TIMEOUT_S))
    until "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$url" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            say "$name exited before it was ready ($url)"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            say "$name not ready at $url after ${READY_TIMEOUT_S}s"
            return 1
        fi
        sleep 0.1
    done
}

for tool in node npm npx; do
    command -v "$tool" >/dev/null || { say "$tool not found: the conformance suite runs on Node (npx)"; exit 1; }
done

suite() { timeout "$SCENARIO_TIMEOUT_S" npx -y -p node@22 -p "$SUITE" -- conformance "$@"; }

# Fetch Node 22 and the suite into the npx cache first, retrying once: a network hiccup then reads as such, and
# never as a failed scenario.
say "fetching node@22 and $SUITE (npx cache)"
if ! suite list >"$work/npx-install.out" 2>&1; then
    say "npx failed; retrying once in 5s:"
    tail -n 20 "$work/npx-install.out" >&2
    sleep 5
    if ! suite list >"$work/npx-install.out" 2>&1; then
        say "could not run $SUITE through npx (network? registry?):"
        tail -n 40 "$work/npx-install.out" >&2
        exit 1
    fi
fi

retrieval_port="$(free_port)"
gateway_port="$(free_port)"
while [[ "$gateway_port" == "$retrieval_port" ]]; do gateway_port="$(free_port)"; done

say "starting retrieval on 127.0.0.1:$retrieval_port"
PP_RETRIEVAL_HOST=127.0.0.1 PP_RETRIEVAL_PORT="$retrieval_port" PP_REDIS_URL=none PP_DATA_DIR="$work/data" \
    "$PYTHON" -m services.retrieval >"$work/retrieval.log" 2>&1 &
pids+=($!)
wait_ready retrieval "${pids[-1]}" "http://127.0.0.1:$retrieval_port/ready"

say "starting the gateway on 127.0.0.1:$gateway_port"
PP_GATEWAY_HOST=127.0.0.1 PP_GATEWAY_PORT="$gateway_port" PP_RETRIEVAL_URL="http://127.0.0.1:$retrieval_port" \
    PP_API_TOKEN="" PP_ALLOWED_ORIGINS="" "$PYTHON" -m services.gateway >"$work/gateway.log" 2>&1 &
pids+=($!)
wait_ready gateway "${pids[-1]}" "http://127.0.0.1:$gateway_port/ready"

url="http://127.0.0.1:$gateway_port/mcp"
failed=()
passed=()
for scenario in $SCENARIOS; do
    say "scenario $scenario against $url"
    if suite server --url "$url" --scenario "$scenario" 2>&1 | tee "$work/$scenario.out"; then
        passed+=("$scenario")
    else
        failed+=("$scenario")
    fi
done

if ! kill -0 "${pids[-1]}" 2>/dev/null; then
    say "the gateway died during the run"
    failed+=("(gateway exited)")
fi

say "passed: ${passed[*]:-none}"
if ((${#failed[@]})); then
    say "FAILED: ${failed[*]}"
    exit 1
fi
say "all ${#passed[@]} scenarios passed"
