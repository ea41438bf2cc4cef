#!/usr/bin/env bash
# Nightly drift check: what changed on the servers behind git's back.
#
# Crontab entry (06:00 every day; cron runs with a bare PATH and an empty environment, so the
# script sets both itself):
#   0 6 * * *  /srv/integrations/drift-cron.sh >> /var/log/reconciler-drift.log 2>&1
#
# Settings, all optional, from the environment or the env file:
#   RECONCILER_ENV_FILE    credentials and settings, KEY=value lines (default: ./drift.env beside
#                          this script; keep it `chmod 600`): KUBIYA_TOKEN, ORKES_KEY_ID,
#                          ORKES_KEY_SECRET, CONSOLE_API_KEY (read-only keys are enough: drift
#                          only reads), DRIFT_WEBHOOK_URL, RECONCILER_ENVIRONMENT (shown in the
#                          Slack message, e.g. production)
#   RECONCILER_BIN_DIR     where `reconciler` is installed (default: ~/.local/bin, pipx's)
#   DRIFT_NOTIFY_ALWAYS    1 (default): post every run to the webhook, clean or failed; 0: drift only
#   DRIFT_REPORT           the JSON report (default: drift.json); on a failed check it holds the
#                          error, never the previous night's result
#   DRIFT_IGNORE_UNMANAGED set to 1 to leave out resources that exist on the servers but not in
#                          the desired state and carry no reconciler marker (made by hand or by
#                          another tool): they are never touched, and on a shared server they
#                          would be reported every night. Changed, missing and orphaned managed
#                          resources are always reported.
#
# Exit 0: no drift. Exit 2: drift found (reported, and posted to $DRIFT_WEBHOOK_URL when set).
# Exit 1: the check itself failed (bad config, server unreachable); posted too.
# A run never overlaps the previous one (flock): a second run exits 1 at once, saying so.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here" || exit 1

export PATH="${RECONCILER_BIN_DIR:-$HOME/.local/bin}:/usr/local/bin:/usr/bin:/bin"

env_file="${RECONCILER_ENV_FILE:-$here/drift.env}"
if [ -f "$env_file" ]; then
    set -a
    # shellcheck disable=SC1090  # the path is a setting
    . "$env_file"
    set +a
fi

stamp() { date -u +%FT%TZ; }

exec 9> "${TMPDIR:-/tmp}/reconciler-drift.$(id -u).lock"
if ! flock -n 9; then
    echo "$(stamp) a drift check is still running; this one is skipped" >&2
    exit 1
fi

args=(integrations/ --format json --out "${DRIFT_REPORT:-drift.json}")
if [ -n "${DRIFT_WEBHOOK_URL:-}" ]; then
    args+=(--notify "$DRIFT_WEBHOOK_URL")
    # Post every night, clean or not, and when the check fails: a silent night then means the
    # job did not run at all. DRIFT_NOTIFY_ALWAYS=0 posts drift only.
    if [ "${DRIFT_NOTIFY_ALWAYS:-1}" = "1" ]; then
        args+=(--notify-always)
    fi
fi
if [ "${DRIFT_IGNORE_UNMANAGED:-0}" = "1" ]; then
    args+=(--ignore-unmanaged)
fi

reconciler drift "${args[@]}" > /dev/null
code=$?
case "$code" in
    0) echo "$(stamp) no drift" ;;
    2) echo "$(stamp) drift found: see ${DRIFT_REPORT:-drift.json}" ;;
    *) echo "$(stamp) drift check failed (exit $code): see ${DRIFT_REPORT:-drift.json}" >&2 ;;
esac
exit "$code"
