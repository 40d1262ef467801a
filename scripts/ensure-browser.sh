#!/usr/bin/env bash
# Make sure the browser tests (tests/browser) can run: Debian's Chromium at /usr/bin/chromium and the
# Noto CJK fonts, so the Japanese screens and the screenshots of docs/manual render properly, plus
# Chromium's language packs (chromium-l10n: the tests run the browser in Japanese, as on the staff's
# PCs, so a date field reads 年/月/日 in the screenshots).
# Installs what is missing with apt when running as root; otherwise says exactly what to install.
# Idempotent: safe to run every time (it does nothing when everything is there).
# Playwright drives this Chromium (executable_path); never run `playwright install`.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
PACKAGES=(chromium chromium-l10n fonts-noto-cjk)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
[[ -x "$CHROMIUM" ]] || missing+=(chromium)
for package in fonts-noto-cjk chromium-l10n; do installed "$package" || missing+=("$package"); done
describe() { echo "browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium), Noto CJK fonts${1:-}"; }

if [[ ${#missing[@]} -eq 0 ]]; then
  describe ", Japanese language pack"
  exit 0
fi

if [[ "$(id -u)" != "0" ]] || ! command -v apt-get >/dev/null; then
  if [[ "${missing[*]}" == "chromium-l10n" ]]; then  # the tests run; only the screenshots' date fields differ
    echo "browser: chromium-l10n is missing (date fields show mm/dd/yyyy): sudo apt-get install -y chromium-l10n" >&2
    describe
    exit 0
  fi
  echo "The browser tests need ${missing[*]}. Install: sudo apt-get install -y ${PACKAGES[*]}" >&2
  exit 1
fi

echo "installing ${missing[*]} with apt-get…"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
[[ -x "$CHROMIUM" ]] || { echo "chromium installed but $CHROMIUM is missing" >&2; exit 1; }
describe ", Japanese language pack"
