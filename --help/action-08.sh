#!/usr/bin/env bash
set -eo pipefail
echo "::error::reconciler plan failed or was refused; the job summary and the pull-request comment say why"
exit 1
