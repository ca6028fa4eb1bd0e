#!/bin/sh
# Container start sequence: migrate (serialised by a database lock), then run the command.
set -e
flask --app wsgi db upgrade
if [ "${DXCONNECT_ENV:-production}" = "development" ]; then
    flask --app wsgi ensure-dev-admin
fi
exec "$@"
