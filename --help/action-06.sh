#!/usr/bin/env bash
set -eo pipefail
# One comment per pull request and artifact name, found by a hidden marker and updated in place.
set -euo pipefail
marker="<!-- reconciler-plan:${ARTIFACT} -->"
body="${RUNNER_TEMP:-/tmp}/reconciler-comment.json"
jq -n --arg marker "$marker" --rawfile text "$MARKDOWN" '{body: ($marker + "\n" + $text)}' > "$body"
existing=$(gh api --paginate "repos/${GITHUB_REPOSITORY}/issues/${PR}/comments" \
  --jq ".[] | select(.body | startswith(\"${marker}\")) | .id" | head -n 1)
if [ -n "$existing" ]; then
  gh api --method PATCH "repos/${GITHUB_REPOSITORY}/issues/comments/${existing}" --input "$body" > /dev/null
else
  gh api --method POST "repos/${GITHUB_REPOSITORY}/issues/${PR}/comments" --input "$body" > /dev/null
fi
