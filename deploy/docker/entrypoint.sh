#!/bin/sh
# The image's entrypoint: wait for the database, migrate when RUN_MIGRATIONS=1, then exec the command
# (the image's CMD: gunicorn with deploy/gunicorn.conf.py), so that it runs as PID 1 and gets the signals.
#
#   WAIT_FOR_DB=0        skip the wait (a command that needs no database)
#   DB_WAIT_ATTEMPTS=30  DB_WAIT_INTERVAL=2   how long to wait (deploy/docker/wait_for_db.py)
#   RUN_MIGRATIONS=1     run `conduit deploy` first (compose and Kubernetes use a one-shot job instead)
#
# Programs are found on PATH (the image puts /opt/venv/bin first), so the script runs outside the image
# too: PATH=/srv/conduit/.venv/bin:$PATH deploy/docker/entrypoint.sh gunicorn ...
set -eu

log() { printf 'entrypoint: %s\n' "$*" >&2; }

if [ "$#" -eq 0 ]; then
  log "no command given (the image's CMD runs gunicorn)"
  exit 2
fi

here=$(dirname "$0")

if [ "${WAIT_FOR_DB:-1}" != 0 ]; then
  python "$here/wait_for_db.py"
fi

if [ "${RUN_MIGRATIONS:-0}" = 1 ]; then
  log "RUN_MIGRATIONS=1: conduit deploy"
  conduit deploy
fi

log "exec $*"
exec "$@"
