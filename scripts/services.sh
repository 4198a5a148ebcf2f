# Sourced by scripts/test: make sure the real services the tests need are there.
# Mosquitto: the binary must exist (tests start private brokers to restart them); the shared
# broker is 127.0.0.1:1883 if it answers, else the tests start one of their own.
# PostgreSQL: 127.0.0.1:5432 with trust auth if it answers, else a private cluster in ./var.

port_answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

ensure_mosquitto() {
    if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
        apt_install mosquitto mosquitto-clients
    fi
    if ! command -v mosquitto_sub >/dev/null; then apt_install mosquitto-clients; fi
    export PATH="$PATH:/usr/sbin"
}

# VictoriaMetrics: only the binary (Debian package victoria-metrics); the telemetry tests start
# their own server on a free port. It stands in for InfluxDB's write API (/api/v2/write).
ensure_victoria_metrics() {
    if ! command -v victoria-metrics >/dev/null && [ ! -x /usr/bin/victoria-metrics ]; then
        apt_install victoria-metrics
    fi
}

pg_bindir() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
    done
    return 1
}

ensure_postgres() {
    if [ -n "${STEWARD_TEST_POSTGRES_URL:-}" ]; then return 0; fi
    if port_answers 127.0.0.1 5432 && command -v psql >/dev/null &&
        psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
        return 0
    fi
    local bindir data port
    bindir="$(pg_bindir)" || { apt_install postgresql; bindir="$(pg_bindir)"; }
    data="$ROOT/var/test-postgres"
    port=55432
    if ! port_answers 127.0.0.1 "$port"; then
        echo "==> starting a private PostgreSQL on 127.0.0.1:$port ($data)"
        mkdir -p "$ROOT/var"
        local run=()
        if [ "$(id -u)" = 0 ]; then
            id postgres >/dev/null 2>&1 || useradd --system --home "$data" postgres
            run=(runuser -u postgres --)
            mkdir -p "$data" && chown postgres "$data"
        fi
        if [ ! -f "$data/PG_VERSION" ]; then
            "${run[@]}" "$bindir/initdb" -D "$data" -A trust -U postgres >/dev/null
        fi
        "${run[@]}" "$bindir/pg_ctl" -D "$data" -l "$data/log" -w \
            -o "-p $port -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
    fi
    export STEWARD_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/postgres"
}
