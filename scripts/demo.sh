#!/bin/sh
# scripts/demo.sh: the main job on a fresh machine: install dependencies,
# build, show what KVM this host has, and run real programs under dune.
#
# On a host without a usable /dev/kvm the programs run inside
# scripts/vm.sh: a VM whose KVM is Linux's kvm_amd with nested paging
# (under QEMU's emulator: correct, but far slower than a real KVM).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dune="$top/build/dune"
if [ "${1-}" != --here ]; then
	"$top/scripts/deps.sh"
	"$top/scripts/build.sh" "$top/build"
	if ! why=$("$dune" info --no-measure 2>&1); then
		echo "$why"
		echo "== no usable KVM here: running the demo in a VM (scripts/vm.sh)"
		exec "$top/scripts/vm.sh" -- "$0" --here
	fi
fi
echo "== dune info"
"$dune" info
echo "== dune run --stats sh -c 'ls /usr/bin | sort | wc -l'"
"$dune" run --stats sh -c 'ls /usr/bin | sort | wc -l'
echo "== dune run --stats python3 (threads)"
if command -v python3 >/dev/null; then
	"$dune" run --stats python3 -c 'import threading
r = []
ts = [threading.Thread(target=lambda i=i: r.append(i * i)) for i in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
print("python3 in the guest:", sorted(r))'
fi
