#!/usr/bin/env bash
set -eo pipefail
# Applies exactly the saved plan, or refuses (exit 1, naming the resources) if anything it
# touches changed on the servers or in the desired state since the plan was made.
set -uo pipefail
if [ ! -f "$PLAN_FILE" ]; then
  echo "::error::no saved plan at $PLAN_FILE: nothing reviewed to apply"
  echo "exitcode=1" >> "$GITHUB_OUTPUT"
  exit 1
fi
# Show the approver what was reviewed: the plan's Markdown travels beside it.
reviewed="${PLAN_FILE%.json}.md"
if [ -f "$reviewed" ]; then
  { echo "## The reviewed plan"; echo; cat "$reviewed"; echo; } >> "$GITHUB_STEP_SUMMARY"
fi
log="${RUNNER_TEMP:-/tmp}/reconciler-apply.txt"
code=0
reconciler apply "$PLAN_FILE" > "$log" 2>&1 || code=$?
cat "$log"
echo "exitcode=$code" >> "$GITHUB_OUTPUT"
{
  echo "## Reconciler apply (exit $code)"
  echo
  echo "<pre>"
  # HTML-escaped: names in the log come from files and servers.
  tail -n 200 "$log" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'
  echo "</pre>"
} >> "$GITHUB_STEP_SUMMARY"
exit "$code"
