# Sourced by scripts/demo and scripts/test: make .venv with Steward installed, once per
# change of pyproject.toml. Works on a fresh Debian with Python 3.11 and nothing else.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
EXTRAS="${STEWARD_EXTRAS:-dev}"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "need root to run: $*" >&2; return 1; fi
}

apt_install() {
    command -v apt-get >/dev/null || { echo "please install: $*" >&2; return 1; }
    echo "==> installing $* (Debian packages)"
    if [ ! -f /tmp/.steward-apt-updated ]; then
        as_root apt-get update -qq && touch /tmp/.steward-apt-updated
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    echo "Steward needs Python >= 3.11 (apt-get install python3)" >&2
    return 1
}

ensure_venv() {
    local python stamp want
    python="$(find_python)"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "==> creating $VENV"
        if ! "$python" -m venv "$VENV" 2>/dev/null; then
            rm -rf "$VENV"
            apt_install python3-venv
            "$python" -m venv "$VENV"
        fi
    fi
    stamp="$VENV/.steward-installed"
    want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)-$EXTRAS"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "==> installing Steward and its dependencies into .venv (first run takes a minute)"
        "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
        "$VENV/bin/python" -m pip install -q -e "$ROOT[$EXTRAS]"
        echo "$want" >"$stamp"
    fi
}
