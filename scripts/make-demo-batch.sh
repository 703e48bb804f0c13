#!/usr/bin/env bash
# Rebuild amiable/ops/demo_data/lot-demo-cpam.csv.gpg: the demo's batch (amiable.intake.demo.demo_batch),
# encrypted for the agency's key and signed with the CPAM's key, both the published test keys of
# tests/data/keys. Run it again only when demo_batch() changes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
home="$(mktemp -d /tmp/gpgdemo.XXXXXX)"
trap 'gpgconf --homedir "$home" --kill gpg-agent 2>/dev/null || true; rm -rf "$home"' EXIT
gpg --homedir "$home" --batch --quiet --import tests/data/keys/agency-test-public.asc tests/data/keys/creditor-test-secret.asc
$PY -c 'import sys; from amiable.intake.demo import demo_batch; sys.stdout.buffer.write(demo_batch())' |
  gpg --homedir "$home" --batch --yes --quiet --pinentry-mode loopback --passphrase "" --trust-model always \
    --local-user transmission-test@cpam-paris.invalid --recipient recouvrement-test@agence.invalid \
    --sign --encrypt --output amiable/ops/demo_data/lot-demo-cpam.csv.gpg
echo "amiable/ops/demo_data/lot-demo-cpam.csv.gpg rebuilt."
