#!/bin/sh
reconciler validate integrations/ --format json > validate.json
