#!/usr/bin/env bash
# Install what is needed, then run the main job on the bundled sample data: development keys
# (generated once, git-ignored), an SQLite registry in ./data, and every sample issued.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

export CERTGEN_DATA="${CERTGEN_DATA:-$PWD/data}"
export CERTGEN_KEYS="${CERTGEN_KEYS:-$PWD/keys}"
if [ -z "${CERTGEN_KEY_PASSPHRASE:-}" ]; then
  # development only: production keys take a passphrase from a prompt or a secret store
  export CERTGEN_KEY_PASSPHRASE="development-only-passphrase"
  echo "using the development passphrase (set CERTGEN_KEY_PASSPHRASE for real keys)"
fi
if [ ! -f "$CERTGEN_KEYS/keystore.json" ]; then
  certgen keys init
fi
certverify trustlist --trust-list "$CERTGEN_KEYS/trustlist.json" --root "$CERTGEN_KEYS/root.cert.pem"
certgen log --verify
