#!/usr/bin/env bash
# The Python venv with Synapse and Heisenbridge for integration/matrix.sh.
#
#   integration/matrix/venv.sh install   # create it unless it is there (.ci/run)
#   source integration/matrix/venv.sh    # sets MATRIX_VENV (the scripts)
#
# It lives outside the work tree, in a cache directory named after the hash of
# requirements.txt and constraints.txt, so a fresh clone (CI) reuses it and a
# change of a pin makes a new one. IT_MATRIX_VENV overrides the location.
MATRIX_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MATRIX_VENV_KEY=$(cat "$MATRIX_DIR/requirements.txt" "$MATRIX_DIR/constraints.txt" | sha256sum | cut -c1-12)
MATRIX_VENV=${IT_MATRIX_VENV:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/ircd-it/matrix-venv-$MATRIX_VENV_KEY}

matrix_venv_ready() { [[ -f "$MATRIX_VENV/.complete" ]]; }

matrix_venv_install() {
    matrix_venv_ready && return 0
    set -e
    rm -rf "$MATRIX_VENV"
    mkdir -p "$(dirname "$MATRIX_VENV")"
    python3 -m venv "$MATRIX_VENV"
    "$MATRIX_VENV/bin/python" -m pip install -q --disable-pip-version-check \
        -r "$MATRIX_DIR/requirements.txt" -c "$MATRIX_DIR/constraints.txt"
    "$MATRIX_VENV/bin/python" -m pip check
    touch "$MATRIX_VENV/.complete"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    case "${1:-}" in
        install) matrix_venv_install ;;
        path) echo "$MATRIX_VENV" ;;
        *) echo "usage: $0 install|path" >&2; exit 2 ;;
    esac
fi
