#!/usr/bin/env bash
# Install what is needed, then run the whole test suite on all cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec python3 -m pytest -n auto -p no:cacheprovider "$@"
