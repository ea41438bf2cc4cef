#!/bin/sh
reconciler apply plan.json
