#!/usr/bin/env bash
# Install what the virtual ward needs on a Debian machine, quickly when it is
# already there: Debian packages, TimescaleDB (built from Debian's trixie
# source package when the extension is missing), and the Python venv.
#
#   bootstrap.sh [--browser]     --browser also installs chromium + chromedriver
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"
STATE="$ROOT/.vward/bootstrap"
WANT_BROWSER=0
[[ "${1:-}" == "--browser" ]] && WANT_BROWSER=1

say() { printf '[bootstrap] %s\n' "$*"; }
as_root() { if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

missing_pkgs=()
need_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || missing_pkgs+=("$1"); }

for p in rabbitmq-server mosquitto mosquitto-clients postgresql postgresql-contrib \
         build-essential cmake libssl-dev libkrb5-dev dpkg-dev poppler-utils; do need_pkg "$p"; done
# poppler-utils: pdftoppm, with which the tests render a discharge summary's PDF.
# The server headers must match the installed server's major version.
PG_MAJOR="$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1 || true)"
need_pkg "postgresql-server-dev-${PG_MAJOR:-15}"
if [[ $WANT_BROWSER -eq 1 ]]; then need_pkg chromium; need_pkg chromium-driver; fi

if (( ${#missing_pkgs[@]} )); then
  say "installing Debian packages: ${missing_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >/dev/null
fi
PG_MAJOR="$(ls /usr/lib/postgresql | sort -n | tail -1)"
PG_CONFIG="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
[[ -x "$PG_CONFIG" ]] || PG_CONFIG="$(command -v pg_config)"

# Debian's packaged mosquitto starts a system broker on 1883; the ward runs its
# own, so the system one is left alone (it never clashes: our ports differ).
# Likewise Debian's rabbitmq-server service (5672, 15672, epmd on 4369), when
# it starts at all: the ward's nodes have their own ports, epmd port, cookie
# and directories (ward/rabbitmq.py), and never read /etc/rabbitmq.

if [[ ! -f "$("$PG_CONFIG" --sharedir)/extension/timescaledb.control" ]]; then
  say "TimescaleDB missing for PostgreSQL $PG_MAJOR: building it from Debian's trixie source package"
  work="$(mktemp -d)"
  aptdir="$work/apt"
  mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial"
  # The mirror is taken from the system's own apt configuration; the trixie
  # deb-src line lives in a private apt config, not in the system's sources.
  mirror="$(grep -hoE '^(URIs:|deb) +[a-z]+://[^ ]+/debian/?' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
            | awk '{print $2}' | grep -v security | head -1 || true)"
  [[ -n "$mirror" ]] || { echo "no Debian mirror found in the system's apt sources" >&2; exit 1; }
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > "$aptdir/sources.list"
  aptopts=(-o "Dir::Etc::SourceList=$aptdir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
           -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache::Archives=$aptdir/archives"
           -o "APT::Sandbox::User=root")
  apt-get "${aptopts[@]}" update -qq
  (cd "$work" && apt-get "${aptopts[@]}" source --download-only -qq timescaledb >/dev/null \
     && dpkg-source -x --no-check timescaledb_*.dsc src >/dev/null)
  say "configuring and building TimescaleDB (Apache-licensed features only)"
  (cd "$work/src" && ./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
       -DWARNINGS_AS_ERRORS=OFF -DLINTER=OFF -DPG_CONFIG="$PG_CONFIG" >/dev/null \
     && cd build && make -s -j"$(nproc)" >/dev/null && as_root make -s install >/dev/null)
  rm -rf "$work"
  say "TimescaleDB installed"
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating $VENV"
  python3 -m venv "$VENV"
fi
mkdir -p "$STATE"
stamp="$STATE/pyproject.sha"
sum="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$sum" ]] || [[ ! -x "$VENV/bin/vward" ]]; then
  say "installing Python packages into .venv"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null 2>&1 || true
  mkdir -p "$ROOT/.vward/logs"
  if ! "$VENV/bin/pip" install -q -e "$ROOT[dev]" --config-settings editable_mode=compat > "$ROOT/.vward/logs/pip.log" 2>&1; then
    tail -30 "$ROOT/.vward/logs/pip.log" >&2; exit 1
  fi
  echo "$sum" > "$stamp"
fi
say "ready"
