#!/usr/bin/env bash
set -eo pipefail
# The distribution is integration-reconciler (the PyPI name "reconciler" is another project).
set -euo pipefail
if [ -n "$RECONCILER_REF" ]; then
  repo="${RECONCILER_REPO:-${GITHUB_ACTION_REPOSITORY:-}}"
  if [ -z "$repo" ]; then
    echo "::error::input version is set, but no repository to install it from: set input repository"
    exit 1
  fi
  python -m pip install --disable-pip-version-check "integration-reconciler @ git+https://github.com/${repo}.git@${RECONCILER_REF}"
else
  python -m pip install --disable-pip-version-check "$ACTION_PATH"
fi
reconciler --version
