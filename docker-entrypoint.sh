#!/bin/sh
# Container start sequence: migrate (serialised by a PostgreSQL advisory lock, so replicas
# starting together apply each revision once), create the dev admin in development only,
# then exec the command (gunicorn by default) so it receives the container's signals.
set -e
cd "$(dirname "$0")"
# One-off commands run without event sinks: a short-lived process must not take a share
# of the live events it would then exit with.
EVENT_SINKS='' flask --app wsgi db upgrade
if [ "${DXCONNECT_ENV:-production}" = "development" ]; then
    EVENT_SINKS='' flask --app wsgi ensure-dev-admin
fi
exec "$@"
