#!/usr/bin/env bash
# Run a command, then print how long it took, whatever its outcome: `scripts/timed.sh LABEL COMMAND...`.
# `make test` and `make test-pg` end with the suite's total time this way.
set -uo pipefail
label="$1"
shift
start=$SECONDS
"$@"
status=$?
elapsed=$((SECONDS - start))
printf '== %s : %d min %02d s (%d s), code de sortie %d\n' "$label" $((elapsed / 60)) $((elapsed % 60)) "$elapsed" "$status"
exit "$status"
