#!/usr/bin/env bash
# Nightly drift check. Crontab entry (06:00 every day):
#   0 6 * * *  cd /srv/integrations && ./drift-cron.sh >> drift.log 2>&1
# Exit 0: no drift. Exit 2: drift found (reported, and posted to $DRIFT_WEBHOOK_URL when set).
# Exit 1: the check itself failed (bad config, server unreachable).
set -u
notify=()
if [ -n "${DRIFT_WEBHOOK_URL:-}" ]; then
    notify=(--notify "$DRIFT_WEBHOOK_URL")
fi
reconciler drift integrations/ --format json --out drift.json "${notify[@]}" > /dev/null
code=$?
case "$code" in
    0) echo "$(date -u +%FT%TZ) no drift" ;;
    2) echo "$(date -u +%FT%TZ) drift found: see drift.json" ;;
    *) echo "$(date -u +%FT%TZ) drift check failed (exit $code)" >&2 ;;
esac
exit "$code"
