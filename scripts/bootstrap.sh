#!/usr/bin/env bash
# Install everything certgen needs on a Debian machine: system packages, then the Python
# packages at the versions the suite was run with (requirements.lock, made by scripts/lock.sh),
# then the project itself (editable, no further dependencies). Safe to run again: it installs
# only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  poppler-utils      # pdfsig, pdftoppm: an independent check of signatures, page images
  libnss3-tools      # certutil: the NSS trust store pdfsig reads
  libzbar0           # zbar, behind pyzbar: an independent barcode reader
  postgresql         # a real PostgreSQL server for the registry tests
  fonts-dejavu-core  # fallback fonts for rendering checks
  fonts-droid-fallback  # Chinese and Japanese letters in names (letterhead.yaml, fonts.fallback)
  fonts-nanum        # Korean letters in names (the same)
  chromium           # a real browser for the web page tests (driven by Playwright, launched by path)
  wrk                # HTTP load generator for the web benchmark
  nginx-light        # the reverse proxy of the deployment stack (deploy/stack.py, tests/test_deploy_stack.py)
  softhsm2           # a real PKCS#11 token for the hardware-key tests (tests/softhsm.py, docs/keys.md)
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PIP=(python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore)
"${PIP[@]}" -r requirements.lock
"${PIP[@]}" --no-deps --no-build-isolation -e .
