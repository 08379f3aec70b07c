#!/bin/sh
# scripts/test.sh: install dependencies, build (plain and ASan/UBSan), run
# the whole test suite with ctest. Exit status is ctest's.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
status=0
run() { # name dir cmake-args...
	name=$1 dir=$2
	shift 2
	echo "== build ($name)"
	"$top/scripts/build.sh" "$dir" "$@"
	echo "== ctest ($name)"
	(cd "$dir" && ctest --output-on-failure --timeout 900 -j1) || status=1
}
run release "$top/build-test" -DCMAKE_BUILD_TYPE=RelWithDebInfo
run asan "$top/build-asan" -DCMAKE_BUILD_TYPE=Debug -DDUNE_SANITIZE=ON
exit $status
