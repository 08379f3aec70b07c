#!/bin/sh
# scripts/suite.sh: run one slice of the test suite with ctest, here (on the
# host or inside scripts/vm.sh), and record what ran for the summary of
# scripts/test.sh.
#
#   scripts/suite.sh BUILD_DIR NAME WHERE [CTEST_ARGS...]
#
# Runs `ctest CTEST_ARGS` in BUILD_DIR with Criterion reporting skips
# (CRITERION_VERBOSITY_LEVEL=1), keeps the full output in
# BUILD_DIR/results/NAME.log, prints ctest's progress lines, the output of
# every test that failed and every skip with its reason, and writes
# BUILD_DIR/results/NAME.sum: one line
#   NAME WHERE TESTS PASSED FAILED SKIPPED CASES-SKIPPED
# (TESTS: ctest tests, i.e. binaries or compat cases; CASES-SKIPPED:
# Criterion test cases or compat cases reported as skipped or XFAIL, with
# their reasons in NAME.skips; tests that passed only on a retry are in
# NAME.retried). Exit status: ctest's.
set -eu
[ $# -ge 3 ] || {
	echo "usage: scripts/suite.sh BUILD_DIR NAME WHERE [CTEST_ARGS...]" >&2
	exit 2
}
build=$1 name=$2 where=$3
shift 3
[ -f "$build/CTestTestfile.cmake" ] || {
	echo "suite.sh: $build is not a configured build tree" >&2
	exit 2
}
out="$build/results"
mkdir -p "$out"
log="$out/$name.log"
export CRITERION_VERBOSITY_LEVEL=1

echo "== $name ($where): ctest $*"
status=0
# -V: every test's output, each line prefixed with the test's number.
(cd "$build" && ctest -V "$@") >"$log" 2>&1 || status=$?
# Progress and result lines, as plain ctest prints them.
grep -E '^ *([0-9]+/[0-9]+ )?Test +#[0-9]+: .*(Passed|\*\*\*)|tests passed|did not run|^\s+[0-9]+ - ' \
	"$log" || true

# The last result of each test: a retried test (--repeat) has a line per
# run, the later ones without the "i/N" count.
sed -nE 's/^ *([0-9]+\/[0-9]+ )?Test +#([0-9]+): [^ ]+ [. ]*(Passed|\*\*\*[A-Za-z]+).*/\2 \3/p' \
	"$log" | awk '{r[$1] = $2; c[$1]++} END {for (n in r) print n, r[n], c[n]}' |
	sort -n >"$out/$name.results"

# Tests that passed only when run again: named, with their first failure.
for n in $(awk '$2 == "Passed" && $3 > 1 {print $1}' "$out/$name.results"); do
	t=$(sed -nE "s/^ *([0-9]+\/[0-9]+ )?Test +#$n: ([^ ]+) .*/\2/p" "$log" | head -1)
	why=$(grep -E "^$n: (FAIL|\[FAIL\])" "$log" | head -1 | sed "s/^$n: //")
	echo "$t: passed on retry; first run: ${why:-see $log}"
done >"$out/$name.retried"
if [ -s "$out/$name.retried" ]; then
	echo "---- passed only on retry in $name ($where):"
	sed 's/^/  /' "$out/$name.retried"
fi

# Failed tests: their whole output.
for n in $(awk '$2 != "Passed" && $2 != "***Skipped" {print $1}' "$out/$name.results"); do
	echo "---- output of test #$n ($name, $where)"
	grep -E "^$n: " "$log" | sed "s/^$n: //" | tail -200
done

# Skips: Criterion's "[SKIP] suite::test: reason", compat.sh's
# "SKIP  case: reason" and "XFAIL case: reason".
grep -E '^[0-9]+: (\[SKIP\] |SKIP  |XFAIL )' "$log" | sed -E 's/^[0-9]+: //' |
	sort -u >"$out/$name.skips" || true
if [ -s "$out/$name.skips" ]; then
	echo "---- skipped in $name ($where):"
	sed 's/^/  /' "$out/$name.skips"
fi

total=$(wc -l <"$out/$name.results")
passed=$(awk '$2 == "Passed"' "$out/$name.results" | wc -l)
skipped=$(awk '$2 == "***Skipped"' "$out/$name.results" | wc -l)
failed=$((total - passed - skipped))
# ctest failed without a failed test to show for it (no tests, a crash):
# count it, never report a clean slice.
[ "$status" = 0 ] || [ "$failed" -gt 0 ] || failed=1
cases=$(wc -l <"$out/$name.skips")
echo "$name $where $total $passed $failed $skipped $cases" >"$out/$name.sum"
[ "$total" -gt 0 ] || {
	echo "suite.sh: $name: ctest ran no tests" >&2
	status=1
}
exit $status
