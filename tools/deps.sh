#!/bin/sh
# Installs the Debian packages the build and the tests need. Idempotent and
# quiet when everything is present.
set -e
PKGS="build-essential pkg-config libxml2-dev libxml2-utils libpopt-dev libjson-c-dev
      linux-libc-dev bats bats-assert bats-support qemu-utils libvhdi-utils xxd jq
      libvirt0 cpio xz-utils libarchive-dev libssl-dev bc python3
      clang cppcheck clang-tidy valgrind"   # the last line: make fuzz, lint, valgrind
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "make deps: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
