#!/usr/bin/env bash
set -eo pipefail
set -uo pipefail
read -r -a paths <<< "$FILES"
read -r -a args <<< "$PLAN_ARGS"
# The Markdown lies beside the plan (plan.json -> plan.md) and travels with it in the artifact.
markdown="${PLAN_FILE%.json}.md"
echo "markdown-file=$markdown" >> "$GITHUB_OUTPUT"
rm -f "$PLAN_FILE"
if [ "$FORK" = "true" ]; then
  {
    echo "### Reconciler plan: skipped"
    echo
    echo "This pull request comes from a fork, which has no access to the credentials plan needs."
    echo "The files were validated; a maintainer can run the plan from a branch of this repository."
  } > "$markdown"
  echo "exitcode=skipped" >> "$GITHUB_OUTPUT"
  exit 0
fi
# Markdown is written on every outcome (the plan, a refusal, the diagnostics or the error).
# (GitHub runs steps with `bash -e`: the exit code is caught, not fatal.)
code=0
reconciler plan "${paths[@]}" --format markdown --out "$PLAN_FILE" --detailed-exitcode "${args[@]}" > "$markdown" || code=$?
echo "exitcode=$code" >> "$GITHUB_OUTPUT"
if [ ! -s "$markdown" ]; then
  echo "### Reconciler plan failed (exit $code); see the job log." > "$markdown"
fi
# The step's own result is decided after the summary and the comment are written.
exit 0
