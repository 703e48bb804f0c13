#!/usr/bin/env bash
# Install the Debian packages the test suite drives for real: Chromium (browser tests), PostgreSQL
# (the suite on PostgreSQL) and GnuPG (encrypted batches). Does nothing when they are present.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v gpg >/dev/null 2>&1 || need+=(gnupg)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "Paquets système manquants pour les tests : ${need[*]} (apt-get install ${need[*]})." >&2
  exit 1
fi
