#!/usr/bin/env bash
# Restore a folder written by backup.sh, REPLACING the current database and media folder:
#   scripts/restore.sh [--yes] BACKUP_FOLDER
# Reads DATABASE_URL and MEDIA_ROOT (default instance/media) like the app. Stop the web
# servers first. Without --yes it asks for confirmation (and refuses when not interactive).
set -euo pipefail
# shellcheck source=scripts/_common.sh
. "$(dirname "$0")/_common.sh"

confirmed=no
if [ "${1:-}" = "--yes" ]; then
    confirmed=yes
    shift
fi
if [ $# -ne 1 ]; then
    echo "Usage: scripts/restore.sh [--yes] BACKUP_FOLDER" >&2
    exit 2
fi
backup="$1"
url="$(pg_url)"
media="$(media_root)"

for file in "$DUMP_FILE" "$MEDIA_FILE" "$SUMS_FILE"; do
    if [ ! -f "$backup/$file" ]; then
        echo "restore.sh: $backup/$file is missing: not a backup folder" >&2
        exit 2
    fi
done
(cd "$backup" && sha256sum --check --quiet "$SUMS_FILE") || {
    echo "restore.sh: checksums of $backup do not match; nothing was changed" >&2
    exit 1
}

if [ "$confirmed" != yes ]; then
    if [ ! -t 0 ]; then
        echo "restore.sh: this replaces the database and $media; pass --yes to confirm" >&2
        exit 2
    fi
    read -r -p "Replace the database and $media with $backup? Type 'yes': " answer
    [ "$answer" = yes ] || { echo "Aborted." >&2; exit 1; }
fi

PGOPTIONS="-c client_min_messages=warning" psql --quiet --no-psqlrc -v ON_ERROR_STOP=1 "$url" \
    -c "DROP SCHEMA IF EXISTS public CASCADE" -c "CREATE SCHEMA public"
pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
    --dbname="$url" "$backup/$DUMP_FILE"

mkdir -p "$media"
find "$media" -mindepth 1 -delete
tar -C "$media" -xzf "$backup/$MEDIA_FILE"
echo "restored $backup"
