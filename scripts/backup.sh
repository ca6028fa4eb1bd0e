#!/usr/bin/env bash
# Back up the database (pg_dump, custom format) and the media folder into one new folder:
#   scripts/backup.sh [DEST_DIR]      (default DEST_DIR: $BACKUP_DIR, else ./backups)
# Reads DATABASE_URL and MEDIA_ROOT (default instance/media) like the app. Prints the folder.
# The folder appears complete or not at all: it is written under a temporary name first.
set -euo pipefail
# shellcheck source=scripts/_common.sh
. "$(dirname "$0")/_common.sh"

url="$(pg_url)"
media="$(media_root)"
dest="${1:-${BACKUP_DIR:-backups}}"
name="dxconnect-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$dest"
if [ -e "$dest/$name" ]; then
    echo "backup.sh: $dest/$name already exists" >&2
    exit 1
fi
partial="$dest/.$name.partial"
rm -rf "$partial"
mkdir -p "$partial"
trap 'rm -rf "$partial"' EXIT

pg_dump --format=custom --no-owner --no-privileges --file="$partial/$DUMP_FILE" "$url"
mkdir -p "$media"
tar -C "$media" -czf "$partial/$MEDIA_FILE" .
(cd "$partial" && sha256sum "$DUMP_FILE" "$MEDIA_FILE" > "$SUMS_FILE")

mv "$partial" "$dest/$name"
trap - EXIT
echo "$dest/$name"
