#!/usr/bin/env bash
# Installs what Stockflow needs on Debian: system packages when missing, then the venv.
#   bash platform/bootstrap.sh            server + tests Python packages
#   bash platform/bootstrap.sh --test-tools  also the test tools: Debian's chromium (browser tests), docker-compose
#                                            and debootstrap (make compose-check)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(python3-venv libmariadb-dev pkg-config libmagic1 gcc python3-dev fonts-dejavu-core
          tesseract-ocr tesseract-ocr-por)
[[ "${1:-}" == "--test-tools" ]] && packages+=(chromium docker-compose debootstrap)
# the receipt corpus's bank fonts (tests/comprovantes/receipts.py falls back to DejaVu without them)
[[ "${1:-}" == "--test-tools" ]] && packages+=(fonts-roboto-unhinted fonts-open-sans fonts-lato fonts-liberation)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# python3-venv/python3-dev only matter when the interpreter is Debian's own
if python3 -c 'import venv, sysconfig, os, sys; sys.exit(0 if os.path.exists(sysconfig.get_paths()["include"] + "/Python.h") else 1)' 2>/dev/null; then
  missing=("${missing[@]/python3-venv}"); missing=("${missing[@]/python3-dev}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[[ "${1:-}" == "--test-tools" ]] && exit 0

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -r requirements-dev.txt
echo "bootstrap: ok"
