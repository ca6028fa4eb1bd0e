#!/usr/bin/env bash
# Day-to-day commands of the compose stack. Production: prefix any verb with
#   COMPOSE_FILE=docker-compose.yml:docker-compose.prod.yml
# (docker compose reads COMPOSE_FILE itself). Extra arguments go to the wrapped command.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
    cat <<'USAGE'
Usage: ./docker-run.sh VERB [ARGS...]

  build              build the images                (docker compose build)
  start              start the stack in background   (docker compose up -d)
  stop               stop and remove the containers  (docker compose down; volumes are kept)
  migrate            apply database migrations       (flask db upgrade in web)
  createsuperuser    create an administrator         (flask create-superuser in web)
  logs [SERVICE...]  follow the logs (default: web)
  test [PYTEST...]   run the test suite in a container against the stack's db and redis

Production: COMPOSE_FILE=docker-compose.yml:docker-compose.prod.yml ./docker-run.sh VERB
USAGE
}

if [ $# -eq 0 ]; then
    usage >&2
    exit 2
fi
verb="$1"
shift
case "$verb" in
    build) exec docker compose build "$@" ;;
    start) exec docker compose up -d "$@" ;;
    stop) exec docker compose down "$@" ;;
    migrate) exec docker compose exec web flask --app wsgi db upgrade "$@" ;;
    createsuperuser) exec docker compose exec web flask --app wsgi create-superuser "$@" ;;
    logs) exec docker compose logs --follow "${@:-web}" ;;
    test) exec docker compose --profile test run --rm tests python -m pytest "$@" ;;
    -h | --help | help) usage ;;
    *)
        echo "docker-run.sh: unknown verb '$verb'" >&2
        usage >&2
        exit 2
        ;;
esac
