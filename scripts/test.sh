#!/bin/sh
# scripts/test.sh: the whole test suite from a clean clone. Installs the
# Debian packages, builds twice (release; ASan+UBSan), runs every test and
# prints a summary: per build and mode, what ran, where, what was skipped
# and why. Exit status 0 only if every slice ran and nothing failed.
#
# What runs where:
#   unit tests          both builds, on the host (no KVM needed)
#   KVM tests           both builds, once per mode (ring3, ring0)
#   compat suite        release build, once per mode (`dune run` on real
#                       programs; with ASan it would double the run time)
# A mode runs on the host when the host's /dev/kvm can run it (ring 3: any
# usable KVM; ring 0: a KVM with VT-x/AMD-V), else inside scripts/vm.sh: a
# VM whose kvm_amd has nested paging (under QEMU's emulator when the host
# has no KVM). Modes that need the VM run in two VMs at once, one per mode,
# each on one host core.
#
#   scripts/test.sh [--vm auto|always]   (always: both modes in the VM)
#
# Environment: DUNE_TEST_VM_TIMEOUT (seconds per VM, default 3000).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
rel="$top/build-test" asan="$top/build-asan"

# ---- inside one place (host or VM): every slice of one mode --------------
if [ "${1-}" = --slices ]; then
	mode=$2 where=$3
	status=0
	slice() { "$top/scripts/suite.sh" "$@" || status=1; }
	if [ "$where" = VM ]; then
		# The shared tree is slow for many small files and skews mtimes:
		# compat's scratch files go to the VM's own tmpfs.
		export DUNE_COMPAT_WORK=/tmp/compat-work
	fi
	slice "$rel" "release.kvm.$mode" "$where" -L '^kvm$' -L "^$mode\$"
	slice "$asan" "asan.kvm.$mode" "$where" -L '^kvm$' -L "^$mode\$"
	# Real programs whose own timing a loaded 2-core machine disturbs
	# (races of their own, e.g. xargs | tail): one retry; a case that
	# fails twice fails.
	slice "$rel" "release.compat.$mode" "$where" -L '^compat$' \
		-L "^$mode\$" --repeat until-pass:2
	exit $status
fi

vm=auto
case "${1-}" in
"") ;;
--vm)
	[ $# -ge 2 ] && { [ "$2" = auto ] || [ "$2" = always ]; } ||
		{ echo "test.sh: --vm takes auto or always" >&2; exit 2; }
	vm=$2 ;;
*) echo "usage: scripts/test.sh [--vm auto|always]" >&2; exit 2 ;;
esac

"$top/scripts/deps.sh"
status=0
echo "== build (release)"
"$top/scripts/build.sh" "$rel" -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== build (asan)"
"$top/scripts/build.sh" "$asan" -DCMAKE_BUILD_TYPE=Debug -DDUNE_SANITIZE=ON
rm -rf "$rel/results" "$asan/results"

"$top/scripts/suite.sh" "$rel" release.unit host -L '^unit$' || status=1
"$top/scripts/suite.sh" "$asan" asan.unit host -L '^unit$' || status=1

# Where each mode can run.
info=$("$rel/dune" info --no-measure 2>&1) && kvm=1 || kvm=0
echo "$info" | sed 's/^/  host: /'
hw=0 # auto mode is ring 0 only where KVM has VT-x/AMD-V
echo "$info" | grep -q '^mode: *ring0' && hw=1
host_modes="" vm_modes=""
for mode in ring3 ring0; do
	if [ $vm = auto ] && [ $kvm = 1 ] &&
		{ [ $mode = ring3 ] || [ $hw = 1 ]; }; then
		host_modes="$host_modes $mode"
	else
		vm_modes="$vm_modes $mode"
	fi
done
echo "== KVM tests and compat suite: host:${host_modes:- none}; VM:${vm_modes:- none}"

# The VMs in the background, one per mode; their output to a log each.
pids=""
for mode in $vm_modes; do
	log="$rel/results/vm.$mode.log"
	mkdir -p "$rel/results"
	echo "== VM for $mode started: output in $log"
	"$top/scripts/vm.sh" --timeout "${DUNE_TEST_VM_TIMEOUT:-3000}" -- \
		"$top/scripts/test.sh" --slices "$mode" VM >"$log" 2>&1 &
	pids="$pids $!:$mode"
done
trap 'for p in $pids; do kill "${p%%:*}" 2>/dev/null || true; done' INT TERM
for mode in $host_modes; do
	"$top/scripts/test.sh" --slices "$mode" host || status=1
done
for p in $pids; do
	rc=0
	wait "${p%%:*}" || rc=$?
	mode=${p#*:}
	echo "== VM for $mode: exit status $rc"
	cat "$rel/results/vm.$mode.log"
	case $rc in
	0) ;;
	124) echo "test.sh: the VM for $mode timed out" >&2; status=1 ;;
	125) echo "test.sh: the VM for $mode failed (see above)" >&2; status=1 ;;
	*) status=1 ;;
	esac
done

# ---- summary -------------------------------------------------------------
echo
echo "== summary (ctest tests: a KVM test binary or a compat case; skipped"
echo "   cases: Criterion cases or compat cases skipped or XFAIL)"
printf '%-8s %-6s %-7s %-5s %6s %7s %7s %8s %14s\n' build mode what where \
	tests passed failed skipped "skipped-cases"
expect="release.unit asan.unit"
for mode in ring3 ring0; do
	expect="$expect release.kvm.$mode asan.kvm.$mode release.compat.$mode"
done
for name in $expect; do
	build=${name%%.*} rest=${name#*.}
	what=${rest%%.*} mode=${rest#*.}
	[ "$what" = "$mode" ] && mode=-
	sum="$top/build-$([ "$build" = release ] && echo test || echo asan)/results/$name.sum"
	if [ ! -f "$sum" ]; then
		printf '%-8s %-6s %-7s %-5s %s\n' "$build" "$mode" "$what" - \
			"DID NOT RUN"
		status=1
		continue
	fi
	# shellcheck disable=SC2046
	set -- $(cat "$sum")
	printf '%-8s %-6s %-7s %-5s %6s %7s %7s %8s %14s\n' "$build" "$mode" \
		"$what" "$2" "$3" "$4" "$5" "$6" "$7"
	[ "$5" = 0 ] || status=1
done
for f in "$rel"/results/*.skips "$asan"/results/*.skips; do
	[ -s "$f" ] || continue
	echo "-- skipped in $(basename "$f" .skips):"
	sed 's/^/   /' "$f"
done
for f in "$rel"/results/*.retried "$asan"/results/*.retried; do
	[ -s "$f" ] || continue
	echo "-- passed only on retry in $(basename "$f" .retried) (flaky):"
	sed 's/^/   /' "$f"
done
[ $status = 0 ] && echo "== all tests passed" || echo "== FAILED (see above)"
exit $status
