#!/usr/bin/env bash
# Start the web server and the task worker together; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8000}"
PY=.venv/bin/python

$PY manage.py db_worker --queue-name default &
worker=$!
cleanup() { kill "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

echo
echo "Amiable est disponible sur http://127.0.0.1:${PORT}/ (Ctrl-C pour arrêter)."
echo "Comptes de démonstration : voir ci-dessus (mot de passe commun)."
echo
$PY manage.py runserver "127.0.0.1:${PORT}"
