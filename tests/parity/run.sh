#!/usr/bin/env bash
# The Kubiya parity suite: the sandbox against the real router (kubiya-control-plane-api 1.0.2
# from PyPI) on PostgreSQL. Run from anywhere, with the project's environment active (the
# `python` on PATH must import reconciler and pytest):
#
#   tests/parity/run.sh [pytest arguments]
#
# 1. PostgreSQL's server programs: Debian's `postgresql`, installed with apt-get when missing
#    (as root). Where they cannot be installed, the run fails: it never skips.
# 2. The router, in a virtual environment of its own made from tests/parity/router.lock (with
#    hashes, from PyPI), kept under $RECONCILER_PARITY_CACHE (default ~/.cache/reconciler-parity)
#    and reused while the lock is unchanged. It never enters the project's environment.
# 3. pytest -m parity tests/parity: the suite starts a throwaway cluster, the routers and the
#    sandboxes itself, and stops them.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() {
    echo "parity: $*" >&2
    exit 1
}

echo "parity: PostgreSQL"
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && ! command -v initdb >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "parity: installing Debian's postgresql package"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null || fail "apt-get update failed: cannot install PostgreSQL, so the parity suite cannot run"
        apt-get install -y -qq postgresql >/dev/null ||
            fail "apt-get install postgresql failed: the parity suite needs PostgreSQL's server programs"
    else
        fail "PostgreSQL's server programs (initdb, pg_ctl) are missing and cannot be installed here" \
            "(not root, or no apt-get): install Debian's postgresql package, then run again"
    fi
fi
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null ||
    fail "PostgreSQL was installed but initdb is still not found"
if [ "$(id -u)" -eq 0 ]; then
    # PostgreSQL refuses to run as root; the suite runs it as the package's system user.
    id postgres >/dev/null 2>&1 || fail "running as root, but there is no postgres user to run PostgreSQL as"
fi

echo "parity: the Kubiya router's environment"
lock=tests/parity/router.lock
cache=${RECONCILER_PARITY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reconciler-parity}
key=$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()[:16])' "$lock")
venv="$cache/router-$key"
if [ ! -f "$venv/.complete" ]; then
    rm -rf "$venv"
    mkdir -p "$cache"
    python3 -m venv "$venv"
    # The lock's hashes are PyPI's: read PyPI alone, whatever the machine's pip configuration.
    # --no-deps: the lock is complete, and pip cannot match an extra (httpx[http2]) against a
    # hashed pin.
    PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --quiet --no-input \
        --no-deps --require-hashes -r "$lock" || fail "installing the router from $lock failed"
    PIP_CONFIG_FILE=/dev/null "$venv/bin/python" -m pip check || fail "the router's environment is inconsistent"
    touch "$venv/.complete"
fi

echo "parity: the conversation"
export PARITY_ROUTER_PYTHON="$venv/bin/python"
set +e
python -m pytest -m parity tests/parity -p no:xdist "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    fail "pytest collected no parity test"
fi
exit "$rc"
