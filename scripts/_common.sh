# Shared by backup.sh and restore.sh (sourced, not run): its variables are used there (SC2034).
# shellcheck shell=bash disable=SC2034
# DATABASE_URL is the app's (SQLAlchemy) URL; libpq tools want it without the "+driver" part.

# Print DATABASE_URL as a libpq URL, or stop when it is not PostgreSQL.
pg_url() {
    local url="${DATABASE_URL:-}"
    if [ -z "$url" ]; then
        echo "$(basename "$0"): DATABASE_URL is not set" >&2
        exit 2
    fi
    case "$url" in
        postgres://* | postgresql://* | postgresql+*://*) ;;
        *)
            echo "$(basename "$0"): DATABASE_URL must be a PostgreSQL URL (SQLite: copy the file instead)" >&2
            exit 2
            ;;
    esac
    printf '%s\n' "$url" | sed -E 's#^postgres(ql)?(\+[a-z0-9]+)?://#postgresql://#'
}

# The folder of uploaded files, as the app sees it (never "/").
media_root() {
    local media="${MEDIA_ROOT:-instance/media}"
    if [ "$media" = / ]; then
        echo "$(basename "$0"): MEDIA_ROOT must not be /" >&2
        exit 2
    fi
    printf '%s\n' "$media"
}

# Names of the files inside one backup folder.
DUMP_FILE=database.dump
MEDIA_FILE=media.tar.gz
SUMS_FILE=SHA256SUMS
