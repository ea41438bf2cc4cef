#!/bin/sh
code=0; reconciler plan integrations/ --format markdown --out plan.json --fail-on delete,replace > plan.md || code=$?
if [ -n "${RECONCILER_NOTE_TOKEN:-}" ]; then reconciler gitlab-note plan.md || code=1; fi
exit "$code"
