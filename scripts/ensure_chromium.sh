#!/usr/bin/env bash
# The browser checks need headless Chromium and its driver (Debian: chromium, chromium-driver).
# On CI (CI=true) install them when missing; elsewhere leave the machine alone: the browser tests
# then skip with a message that says how to install them.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
if [ "${CI:-}" = "true" ]; then
    echo "ensure_chromium: installing chromium and chromium-driver (CI=true)"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
else
    echo "ensure_chromium: chromium not found; the browser tests will be skipped" \
         "(install Debian's chromium and chromium-driver to run them)"
fi
