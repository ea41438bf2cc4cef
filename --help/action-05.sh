#!/usr/bin/env bash
set -eo pipefail
cat "$MARKDOWN" >> "$GITHUB_STEP_SUMMARY"