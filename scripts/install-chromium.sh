#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (Playwright launches it; no browser download).
# Installs it from the distribution's packages when missing; never fails the setup: without it the
# browser tests fail and say why.
set -uo pipefail

for found in /usr/bin/chromium /usr/bin/chromium-browser; do
    if [[ -x $found ]]; then
        exit 0
    fi
done
if ! command -v apt-get >/dev/null; then
    echo "Chromium not found and no apt-get here: install Chromium to run the console's browser tests" >&2
    exit 0
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
        echo "Chromium not found: run 'apt-get install -y chromium' as root for the browser tests" >&2
        exit 0
    fi
    sudo=(sudo -n)
fi
echo "Installing Chromium from the distribution's packages (browser tests)"
if ! { "${sudo[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium >/dev/null; }; then
    echo "Could not install Chromium (apt-get install chromium failed): the browser tests will fail" >&2
fi
exit 0
