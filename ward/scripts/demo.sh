#!/usr/bin/env bash
# `make demo`: the whole ward on this machine.  Starts PostgreSQL+TimescaleDB
# and Mosquitto (`vward up`), the ingest service, the alerts engine, the web
# app and a simulated mixed ward, then waits; Ctrl-C (or SIGTERM) stops the
# ward's processes within 10 s (the services keep their data: `vward down`
# stops them too).  Files go under $VWARD_HOME (default .vward), as `vward`'s.
set -euo pipefail
cd "$(dirname "$0")/../.."

VWARD=.venv/bin/vward
export VWARD_DEMO=true
LOGS=${VWARD_HOME:-.vward}/logs
GRACE=8  # [s] a process has to stop after SIGTERM before it is killed
mkdir -p "$LOGS"

say() { printf '[demo] %s\n' "$*"; }
has_command() { "$VWARD" "$1" --help >/dev/null 2>&1; }

pids=()
names=()
running() { kill -0 "$1" 2>/dev/null; }
stop() {  # every process started, stopped within GRACE s, or killed and said so
    trap - EXIT
    trap '' INT TERM  # a second Ctrl-C reaches the processes; this loop still ends them
    say "stopping the ward's processes (services stay up; '.venv/bin/vward down' stops them)"
    local i pid waited=0
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for ((i = 0; i < ${#pids[@]}; i++)); do
        while running "${pids[i]}" && ((waited < GRACE * 10)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if running "${pids[i]}"; then
            say "${names[i]} (pid ${pids[i]}) did not stop within ${GRACE} s of SIGTERM: killing it (SIGKILL)"
            kill -KILL "${pids[i]}" 2>/dev/null || true
        fi
    done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    say "stopped"
}
trap stop INT TERM EXIT

start() {  # start NAME ARGS...: run `vward ARGS` in the background, log to $LOGS/NAME.log
    local name=$1; shift
    "$VWARD" "$@" >>"$LOGS/$name.log" 2>&1 &
    pids+=($!)
    names+=("$name")
    say "started $name (pid $!, log $LOGS/$name.log)"
}

"$VWARD" up
start ingest ingest
if has_command alerts; then
    start alerts alerts
fi
if has_command web; then
    start web web
fi

if has_command simulate; then
    # Simulated time runs 30x from 3 h back and is at the present after 6 min
    # (readings can't come from the future); until then the ward looks as it
    # did hours ago, so a few patients show as overdue.
    say "simulating a mixed ward of 30 patients (a few deteriorate within minutes) at 30x speed"
    "$VWARD" simulate --patients 30 --scenario mixed --speed 30 --seed 7 \
        --start "$(date -u -d '3 hours ago' +%Y-%m-%dT%H:%M:%SZ)" \
        > >(trap '' INT; exec tee -a "$LOGS/simulate.log") 2>&1 &  # tee outlives Ctrl-C
    pids+=($!)
    names+=(simulate)
else
    pw=$("$VWARD" device add demo-oximeter-1 --patient demo-patient-1 --ward ward-1 | tail -n 1)
    say "publish a reading as the demo device:"
    echo "  mosquitto_pub -h 127.0.0.1 -p $("$VWARD" config | sed -n 's/^VWARD_MQTT_PORT=//p')" \
         "-u demo-oximeter-1 -P '$pw' -q 1 -t ward/v1/devices/demo-oximeter-1/readings \\"
    echo "    -m '{\"id\":\"m1\",\"readings\":[{\"time\":\"'\$(date -u +%FT%TZ)'\",\"type\":\"heart_rate\",\"value\":72}]}'"
fi

if has_command web; then
    port=$("$VWARD" config | sed -n 's/^VWARD_WEB_PORT=//p')
    say "the ward: http://127.0.0.1:${port}/  (credentials: see $LOGS/web.log, printed below)"
    sleep 3
    grep -i -E "login|user|password" "$LOGS/web.log" | tail -n 3 || true
fi
say "running; Ctrl-C to stop"
wait
