#!/usr/bin/env bash
# Make the Docker sandbox usable on this machine: engine installed and running, image built.
#
#   bash .ci/docker.sh            # idempotent: each step is skipped when already done
#
# 1. installs Debian's docker.io (dockerd, containerd, runc) and debootstrap, if missing;
# 2. starts dockerd in the background unless an engine already answers (log: $DOCKERD_LOG);
# 3. waits until `docker info` answers, or fails after $DOCKERD_WAIT_S seconds saying why;
# 4. builds the sandbox image offline (debootstrap + docker import, no registry), unless the
#    image for the current recipe already exists: its tag is a hash of the recipe.
# Afterwards, run the docker-marked tests with RLVR_REQUIRE_DOCKER=1 so that they fail, not skip,
# if the engine went away.
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/rlvr-dockerd.log}
DOCKERD_WAIT_S=${DOCKERD_WAIT_S:-60}
cd "$(dirname "$0")/.."

say() { echo "[docker.sh] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (apt-get, dockerd, debootstrap)"

# -- 1. packages
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null  # with Recommends: the set this was tested with
fi

# -- 2. engine
if docker info >/dev/null 2>&1; then
    say "Docker engine already running"
else
    pidfile=/var/run/docker.pid
    if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        say "removing stale $pidfile"
        rm -f "$pidfile"
    fi
    say "starting dockerd (log: $DOCKERD_LOG)"
    nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    disown || true
    # -- 3. wait
    deadline=$((SECONDS + DOCKERD_WAIT_S))
    until docker info >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            say "last lines of $DOCKERD_LOG:"
            tail -n 20 "$DOCKERD_LOG" >&2 || true
            die "dockerd did not answer within ${DOCKERD_WAIT_S}s"
        fi
        sleep 0.5
    done
    say "Docker engine up after $((SECONDS + DOCKERD_WAIT_S - deadline))s"
fi

# -- 4. image
if command -v rlvr >/dev/null 2>&1; then
    rlvr=(rlvr)
elif [ -x .venv/bin/rlvr ]; then
    rlvr=(.venv/bin/rlvr)
else
    rlvr=(python3 -m rl.cli)
fi
"${rlvr[@]}" sandbox build-image --offline
"${rlvr[@]}" sandbox doctor >&2 || die "the sandbox is not healthy (see the BAD line above)"
say "ready"
