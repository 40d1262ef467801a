#!/bin/sh
# Run one service's Flask app under gunicorn: scripts/serve.sh <python package>
# Prometheus' multiprocess directory must be set before Python starts and wiped on every start.
set -eu
pkg=$1
dir="${PROMETHEUS_MULTIPROC_BASE:-${TMPDIR:-/tmp}/cityline-prometheus}/$pkg"
rm -rf "$dir"
mkdir -p "$dir"
export PROMETHEUS_MULTIPROC_DIR="$dir"
exec gunicorn -c "python:$pkg.entrypoints.gunicorn_conf" "$pkg.entrypoints.flask_app:create_app()"
