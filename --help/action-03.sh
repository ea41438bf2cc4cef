#!/usr/bin/env bash
set -eo pipefail
# Offline; an unset ${env:...} variable is only a warning (a fork's pull request has no secrets).
set -uo pipefail
read -r -a paths <<< "$FILES"
reconciler validate "${paths[@]}"
