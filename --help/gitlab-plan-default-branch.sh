#!/bin/sh
reconciler plan integrations/ --format markdown --out plan.json > plan.md
