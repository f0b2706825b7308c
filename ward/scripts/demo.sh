#!/usr/bin/env bash
# `make demo`: the whole ward on this machine.  Starts PostgreSQL+TimescaleDB
# and Mosquitto (`vward up`), the ingest service, the alerts engine, the web
# app and a simulated mixed ward, then waits; Ctrl-C stops the ward's
# processes (the services keep their data: `vward down` stops them too).
set -euo pipefail
cd "$(dirname "$0")/../.."

VWARD=.venv/bin/vward
export VWARD_DEMO=true
LOGS=.vward/logs
mkdir -p "$LOGS"

say() { printf '[demo] %s\n' "$*"; }
has_command() { "$VWARD" "$1" --help >/dev/null 2>&1; }

pids=()
stop() {
    trap - INT TERM EXIT
    say "stopping the ward's processes (services stay up; '.venv/bin/vward down' stops them)"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop INT TERM EXIT

start() {  # start NAME ARGS...: run `vward ARGS` in the background, log to .vward/logs/NAME.log
    local name=$1; shift
    "$VWARD" "$@" >>"$LOGS/$name.log" 2>&1 &
    pids+=($!)
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
        > >(tee -a "$LOGS/simulate.log") 2>&1 &
    pids+=($!)
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
