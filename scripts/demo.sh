#!/bin/sh
# scripts/demo.sh: the main job on a fresh machine: install dependencies,
# build, show what KVM this host has, and run real programs under dune.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/build.sh" "$top/build"
dune="$top/build/dune"
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
