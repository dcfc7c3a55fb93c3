#!/usr/bin/env bash
# Install what is needed, then run the main job on the bundled sample data: development keys
# (generated once, git-ignored), an SQLite registry in ./data, and every sample file issued.
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
elif ! grep -q '"log"' "$CERTGEN_KEYS/keystore.json"; then
  certgen keys init-log  # a key folder from before the transparency log
fi
certverify --trust-list "$CERTGEN_KEYS/trustlist.json" --root "$CERTGEN_KEYS/root.cert.pem" trustlist

certgen issue product samples/product-type1.csv
certgen issue product samples/product-type5.xlsx
certgen issue person samples/person.csv
certgen issue training samples/training.xlsx
certgen log --verify
# a witness: keeps the last checkpoint it accepted, and names a rollback or a fork next time
certverify --trust-list "$CERTGEN_KEYS/trustlist.json" --root "$CERTGEN_KEYS/root.cert.pem" log audit \
  --registry "${CERTGEN_REGISTRY_URL:-sqlite:///$CERTGEN_DATA/registry.sqlite3}" --state "$CERTGEN_DATA/witness"
python scripts/service_demo.py "$CERTGEN_DATA/service-demo"

cat <<DONE

Done. Look at:
  $CERTGEN_DATA/issued/person-person/certificates/   signed person certificates (PDF)
  $CERTGEN_DATA/issued/person-person/cards/          card PDFs (front and back)
  $CERTGEN_DATA/issued/person-person/sheets/         A4 print sheets of 10 cards
  $CERTGEN_DATA/issued/*/manifest.csv                 what was issued, with SHA-256 digests
  certgen show \$(sed -n 2p $CERTGEN_DATA/issued/person-person/manifest.csv | cut -d, -f2)
Running this again issues nothing twice.
DONE
