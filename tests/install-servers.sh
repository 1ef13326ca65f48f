#!/bin/sh
# Installs and starts the real servers the tests talk to: ngIRCd, InspIRCd, the ZNC
# bouncer, PostgreSQL and Synapse (Matrix), and Chromium for the browser tests.
# Uses apt-get (as root, or through sudo); does nothing for what is already there.
set -e
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need=""
[ -x /usr/sbin/ngircd ] || command -v ngircd >/dev/null 2>&1 || need="$need ngircd"
command -v znc >/dev/null 2>&1 || need="$need znc"
[ -x /usr/sbin/inspircd ] || command -v inspircd >/dev/null 2>&1 || need="$need inspircd"
# The browser tests drive Debian's Chromium through Playwright (never `playwright install`).
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v pg_ctlcluster >/dev/null 2>&1 || need="$need postgresql"
# axe-core, the accessibility audit the page tests run inside Chromium, comes from npm.
command -v npm >/dev/null 2>&1 || need="$need npm"
if [ -n "$need" ]; then
    echo "installing:$need"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        pg_isready -h 127.0.0.1 -p 5432 -q && break
        sleep 1
    done
fi
# The tests connect as postgres over TCP without a password (trust), as on these machines.
if ! psql "postgresql://postgres@127.0.0.1:5432/postgres" -c "select 1" >/dev/null 2>&1; then
    echo "PostgreSQL runs but does not accept postgres@127.0.0.1 without a password;" >&2
    echo "allow it with a 'host all postgres 127.0.0.1/32 trust' line in pg_hba.conf" >&2
    exit 1
fi

# Synapse, the Matrix homeserver, in its own virtualenv (it pins its own dependencies);
# the tests start it themselves. tests/matrix_server.py looks for it here.
SYNAPSE_VENV="${OPENMINUTES_SYNAPSE_VENV:-$HOME/.cache/openminutes/synapse-venv}"
if [ ! -x "$SYNAPSE_VENV/bin/synapse_homeserver" ]; then
    echo "installing Synapse into $SYNAPSE_VENV"
    rm -rf "$SYNAPSE_VENV"
    python3 -m venv "$SYNAPSE_VENV"
    "$SYNAPSE_VENV/bin/pip" install -q --upgrade pip
    "$SYNAPSE_VENV/bin/pip" install -q "matrix-synapse>=1.100"
fi

# axe-core (npm package) for tests/test_pages.py, in the same cache.
AXE_DIR="${OPENMINUTES_AXE_DIR:-$HOME/.cache/openminutes/axe}"
if [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]; then
    echo "installing axe-core into $AXE_DIR"
    mkdir -p "$AXE_DIR"
    (cd "$AXE_DIR" && npm install --silent --no-audit --no-fund "axe-core@4" >/dev/null)
fi
