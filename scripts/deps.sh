#!/bin/sh
# Installs the Debian packages vramfit builds and tests with, when missing.
# Runs apt-get only if something is absent, so it is cheap to call twice.
set -eu

PKGS="build-essential cmake pkg-config libjansson-dev libyaml-dev \
libcurl4-openssl-dev libcmocka-dev python3"
[ "${VF_WITH_SANITIZERS:-1}" = 1 ] && PKGS="$PKGS clang"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "vramfit: installing$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
