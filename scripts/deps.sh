#!/bin/sh
# scripts/deps.sh: install the Debian packages dune needs to build, test and
# benchmark (as root; does nothing for packages already installed).
set -eu
PKGS="build-essential cmake ninja-build pkg-config libelf-dev libnuma-dev
libseccomp-dev libcriterion-dev linux-perf gnuplot-nox"
here=$(dirname "$0")
if [ -f "$here/../tests/compat/packages.txt" ]; then
	PKGS="$PKGS $(grep -v '^#' "$here/../tests/compat/packages.txt" | tr '\n' ' ')"
fi
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: need root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
