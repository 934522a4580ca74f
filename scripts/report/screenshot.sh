#!/bin/sh
# Renders a report.html in headless Chromium to a full-page PNG, to look at
# the report as a reader sees it (installs Debian's chromium on first use).
#   scripts/report/screenshot.sh runs/quickstart/report.html /tmp/report.png [HEIGHT]
set -eu
page=$(realpath "$1")
out=$2
height=${3:-6000}
if ! command -v chromium >/dev/null; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium fonts-noto-cjk
fi
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,"$height" \
	--screenshot="$out" "file://$page" 2>/dev/null
echo "wrote $out (1280 x $height)"
