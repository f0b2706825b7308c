#!/usr/bin/env bash
# `make demo`: the whole ward on this machine.  Starts PostgreSQL+TimescaleDB
# and the broker (`vward up`), the ingest service, the alerts engine, the web
# app and a simulated mixed ward, then watches them: a ward process that exits
# is started again, and a broker that stops answering is brought back with
# `vward up` (docs/operating.md: deploy/ has the systemd units that do this in
# production).  Ctrl-C (or SIGTERM) stops the ward's processes within 10 s (the
# services keep their data: `vward down` stops them too).  Files go under
# $VWARD_HOME (default .vward), as `vward`'s.
set -euo pipefail
cd "$(dirname "$0")/../.."

VWARD=.venv/bin/vward
export VWARD_DEMO=true
LOGS=${VWARD_HOME:-.vward}/logs
GRACE=8  # [s] a process has to stop after SIGTERM before it is killed
mkdir -p "$LOGS"

say() { printf '[demo] %s\n' "$*"; }

pids=()
names=()
commands=()  # the vward arguments of each supervised process ('' for one not restarted)
stopping=0
running() { kill -0 "$1" 2>/dev/null; }
stop() {  # every process started, stopped within GRACE s, or killed and said so
    stopping=1
    trap - EXIT
    trap '' INT TERM  # a second Ctrl-C reaches the processes; this loop still ends them
    say "stopping the ward's processes (services stay up; '.venv/bin/vward down' stops them)"
    local i pid
    # The grace by the clock (bash's EPOCHREALTIME, in microseconds): counting
    # 0.1 s sleeps let a loaded machine stretch 8 s to 10.
    local deadline=$(( ${EPOCHREALTIME//[.,]/} + GRACE * 1000000 ))
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for ((i = 0; i < ${#pids[@]}; i++)); do
        while running "${pids[i]}" && (( ${EPOCHREALTIME//[.,]/} < deadline )); do
            sleep 0.1
        done
        if running "${pids[i]}"; then
            say "${names[i]} (pid ${pids[i]}) did not stop within ${GRACE} s of SIGTERM: killing it (SIGKILL)"
            kill -KILL "${pids[i]}" 2>/dev/null || true
        fi
    done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    say "stopped"
}
# After Ctrl-C the script ends with the trap: a signal that lands while the loop
# below waits inside supervise() must not return there, where it would restart a
# process (or the broker) after "[demo] stopped" (test_demo_stop caught one alive
# 30 s later).
# The EXIT trap is dropped first, so that stop runs (and says so) once.
trap 'trap - EXIT; stop; exit 130' INT TERM
trap stop EXIT

start() {  # start NAME ARGS...: run `vward ARGS` in the background, log to $LOGS/NAME.log
    local name=$1; shift
    "$VWARD" "$@" >>"$LOGS/$name.log" 2>&1 &
    pids+=($!)
    names+=("$name")
    commands+=("$*")
    say "started $name (pid $!, log $LOGS/$name.log)"
}

restarts=()  # epoch seconds of each restart, for the backoff
supervise() {  # one look: restart a ward process that exited; bring a silent broker back
    local i status now
    for ((i = 0; i < ${#pids[@]}; i++)); do
        [[ -n "${commands[i]}" ]] && ! running "${pids[i]}" || continue
        ((stopping)) && return
        status=0; wait "${pids[i]}" 2>/dev/null || status=$?
        now=$(date +%s)
        # At most 5 restarts a minute: a process that cannot start is reported, not spun.
        local recent=0 t
        for t in "${restarts[@]}"; do ((now - t < 60)) && recent=$((recent + 1)); done
        if ((recent >= 5)); then
            say "${names[i]} keeps exiting (status $status); waiting before the next restart"
            continue
        fi
        restarts+=("$now")
        # shellcheck disable=SC2086  # the arguments were words when they were started
        "$VWARD" ${commands[i]} >>"$LOGS/${names[i]}.log" 2>&1 &
        say "${names[i]} exited (status $status): restarted it (pid $!)"
        pids[i]=$!
    done
    if ! (exec 3<>"/dev/tcp/$MQTT_HOST/$MQTT_PORT") 2>/dev/null; then
        say "the broker at $MQTT_HOST:$MQTT_PORT does not answer: starting it again (vward up)"
        "$VWARD" up >>"$LOGS/up.log" 2>&1 || say "vward up failed: see $LOGS/up.log"
    fi
}

"$VWARD" up
MQTT_HOST=$("$VWARD" config | sed -n 's/^VWARD_MQTT_HOST=//p')
MQTT_PORT=$("$VWARD" config | sed -n 's/^VWARD_MQTT_PORT=//p')
start ingest ingest
start alerts alerts
start web web
# Notifications (docs/notifications.md): a local SMTP sink keeps every email in
# $VWARD_HOME/mail, read on the dashboard's Notifications page (admins).
SMTP_HOST=$("$VWARD" config | sed -n 's/^VWARD_SMTP_HOST=//p')
if [[ "$SMTP_HOST" == 127.0.0.1 || "$SMTP_HOST" == localhost ]]; then
    start mail-sink mail-sink
fi
start notifier notifier

# Simulated time runs 30x from 3 h back and is at the present after 6 min
# (readings can't come from the future); until then the ward looks as it
# did hours ago, so a few patients show as overdue.
say "simulating a mixed ward of 30 patients (a few deteriorate within minutes) at 30x speed"
"$VWARD" simulate --patients 30 --scenario mixed --speed 30 --seed 7 \
    --start "$(date -u -d '3 hours ago' +%Y-%m-%dT%H:%M:%SZ)" \
    > >(trap '' INT; exec tee -a "$LOGS/simulate.log") 2>&1 &  # tee outlives Ctrl-C
pids+=($!)
names+=(simulate)
commands+=("")  # the simulated patients, not the ward: not restarted

# Two protocol wards beside it (docs/simulators.md, "Protocol wards"): COVID-19
# oximetry @home (ward-covid: readings every 2 simulated hours from 18 h back at
# 120x, present after 9 min; half the patients desaturate through amber to red)
# and heart failure (ward-hf: daily weights from 4 days back, caught up within
# 3 min; half gain weight).  NEWS2 applies on both too.
protocol_ward() {  # protocol_ward NAME ARGS...: a one-off simulator, logged, not restarted
    local name=$1; shift
    "$VWARD" simulate-protocol "$@" >>"$LOGS/$name.log" 2>&1 &
    pids+=($!)
    names+=("$name")
    commands+=("")
    say "started $name (pid $!, log $LOGS/$name.log)"
}
protocol_ward simulate-covid --protocol covid-oximetry --ward ward-covid --patients 6 \
    --hours-back 18 --every 7200 --onset-hours 6 --speed 120 --seed 7
protocol_ward simulate-hf --protocol heart-failure --ward ward-hf --patients 6 \
    --hours-back 96 --onset-hours 24 --speed 2000 --seed 7

port=$("$VWARD" config | sed -n 's/^VWARD_WEB_PORT=//p')
say "the ward: http://127.0.0.1:${port}/  (credentials: see $LOGS/web.log, printed below)"
sleep 3
grep -i -E "login|user|password" "$LOGS/web.log" | tail -n 3 || true
# Someone on call, so that alerts reach the sink: a hub nurse (tier 1) and a
# senior clinician (tier 2) all week, once the simulator has made the ward.  In
# the background (each vward command is a second or two), not restarted.
# A clinician sees only their team's wards (and their rota's): the demo login
# joins the three wards' teams, the two on call ward-sim's.
demo_rota() {
    local tier name ward
    "$VWARD" team join ward-sim --user demo >>"$LOGS/rota.log" 2>&1 || return 1
    for ward in ward-covid ward-hf; do
        "$VWARD" team join "$ward" --user demo >>"$LOGS/rota.log" 2>&1 || true
    done
    for tier in 1 2; do
        name=$([[ $tier == 1 ]] && echo demo-nurse || echo demo-senior)
        "$VWARD" user add "$name" --role clinician --if-missing --ward ward-sim \
            --email "$name@ward.demo" >>"$LOGS/rota.log" 2>&1 || return 1
        "$VWARD" user contact "$name" --email "$name@ward.demo" >>"$LOGS/rota.log" 2>&1 || true
        "$VWARD" rota set ward-sim --tier "$tier" --user "$name" >>"$LOGS/rota.log" 2>&1 \
            || return 1
    done
}
(
    for _ in $(seq 1 20); do
        if demo_rota; then
            say "on call for ward-sim: demo-nurse (tier 1), demo-senior (tier 2); their emails: the Notifications page (admins)"
            exit 0
        fi
        sleep 2
    done
    say "could not set the demo rota (see $LOGS/rota.log): alerts stay on the dashboard"
) &
pids+=($!)
names+=(rota)
commands+=("")  # a one-off step, not restarted
say "running; Ctrl-C to stop"
while true; do
    sleep 2 & wait $!  # a trap runs at once, not after the sleep
    supervise
done
