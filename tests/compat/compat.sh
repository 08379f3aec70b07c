#!/bin/sh
# tests/compat/compat.sh: the `dune run` compatibility runner. Runs each
# case of cases.txt natively and under `dune run --mode MODE` with the same
# arguments, environment, cwd (a fresh copy of the case's fixture at the
# same path), stdin and fds, then compares stdout, stderr and the wait
# status. See README.md for the table format.
#
# usage: compat.sh [--dune PATH] [--progs DIR] [--work DIR] (or env
#                  DUNE_COMPAT_WORK)
#                  [--mode ring3|ring0|all] [--keep] [--list] [CASE...]
# Exit status: 0 all passed (or known failures), 1 a case failed (or a
# known failure passed: remove it from xfail.txt), 77 when every case
# asked for was skipped (ctest SKIP_RETURN_CODE), 2 usage error.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
dune=${DUNE:-}
progs=""
work=""
modes="ring3"
keep=0
list=0
while [ $# -gt 0 ]; do
	case $1 in
	--dune) dune=$2; shift 2 ;;
	--progs) progs=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--mode) modes=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--list) list=1; shift ;;
	--help|-h) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	-*) echo "compat.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ "$modes" = all ] && modes="ring3 ring0"

cases_file=$here/cases.txt
xfail_file=$here/xfail.txt

# The case table, without comments and blank lines.
table() {
	sed -e 's/^[[:space:]]*//' -e '/^#/d' -e '/^$/d' "$cases_file"
}

if [ $list = 1 ]; then
	table | awk '{print $1}'
	exit 0
fi

if [ -z "$dune" ]; then
	for d in "$top/build/dune" "$top/build-compat/dune"; do
		[ -x "$d" ] && dune=$d && break
	done
fi
if [ -z "$dune" ] || [ ! -x "$dune" ]; then
	echo "compat.sh: no dune executable (build it, or pass --dune PATH)" >&2
	exit 2
fi
dune=$(cd "$(dirname "$dune")" && pwd)/$(basename "$dune")
# DUNE_COMPAT_WORK wins over --work: scripts/test.sh points it at a tmpfs
# when the suite runs in the VM (fixtures on the 9p share are slow there).
work=${DUNE_COMPAT_WORK:-$work}
[ -n "$work" ] || work=${TMPDIR:-/tmp}/dune-compat.$(id -u)
mkdir -p "$work" || exit 2
work=$(cd "$work" && pwd)

# Programs: built by CMake (--progs), or here with the system compiler.
# Some also get a statically linked twin, NAME-static.
static_progs="threads signals forkwait exec mmap crash envfd"
build_prog() { # src out extra-flags
	if [ ! -x "$2" ] || [ "$1" -nt "$2" ] || [ "$here/progs/check.h" -nt "$2" ]
	then
		# shellcheck disable=SC2086
		${CC:-cc} -std=c11 -O2 -g -Wall -Wextra -Werror $3 \
			-I"$here/progs" -o "$2" "$1" -pthread ||
			{ echo "compat.sh: cannot build $1" >&2; exit 2; }
	fi
}
if [ -z "$progs" ]; then
	progs=$work/progs
	mkdir -p "$progs"
	for src in "$here"/progs/*.c; do
		name=$(basename "$src" .c)
		if [ "$name" = rawexit ]; then
			build_prog "$src" "$progs/$name" "-ffreestanding \
				-fno-stack-protector -nostdlib -static"
			continue
		fi
		build_prog "$src" "$progs/$name" ""
		case " $static_progs " in *" $name "*)
			build_prog "$src" "$progs/$name-static" -static ;;
		esac
	done
fi
progs=$(cd "$progs" && pwd)
cx=$progs/cx
[ -x "$cx" ] || { echo "compat.sh: $cx missing" >&2; exit 2; }

# Host virtualization, asked once: ring 0 is only worth running where the
# CPU runs it (VT-x/AMD-V); on software KVM it is emulated.
hw_virt=""
ring0_skip_reason() {
	if [ -z "$hw_virt" ]; then
		# A usable KVM whose auto mode is ring 3 has no VT-x/AMD-V;
		# without a usable KVM the cases run (and fail) honestly.
		if info=$("$dune" info --no-measure 2>/dev/null) &&
			! echo "$info" | grep -q '^mode: *ring0'
		then hw_virt=no; else hw_virt=yes; fi
	fi
	[ $hw_virt = no ] && echo "guest ring 0 is emulated on this software KVM"
}

# The one environment both runs get (plus what the case line adds).
base_env() {
	printf '%s\n' "PATH=/usr/local/bin:/usr/bin:/bin" "HOME=$home" \
		"LC_ALL=C" "TZ=UTC" "TMPDIR=$tmpd" "USER=${USER:-root}" \
		"LOGNAME=${USER:-root}" "SHELL=/bin/sh" "TERM=dumb" \
		"PYTHONDONTWRITEBYTECODE=1" "PYTHONHASHSEED=0" \
		"COMPAT_PROGS=$progs" "COMPAT_SRC=$here"
}

# run_one SIDE CMD...: run in a fresh copy of the fixture; outputs in $res.
run_one() {
	side=$1
	shift
	rm -rf "$scratch"
	cp -a "$fix" "$scratch" || return 1
	home=$scratch/.home tmpd=$scratch/.tmp
	mkdir -p "$home" "$tmpd"
	inpath=$stdin
	case $inpath in /*) ;; *) inpath=$scratch/$inpath ;; esac
	# shellcheck disable=SC2046
	(cd "$scratch" && IFS='
' && exec env -i $(base_env) $case_env "$cx" -t "$timeout" -i "$inpath" \
		-o "$res/$side.out" -e "$res/$side.err" -s "$res/$side.status" \
		-- "$@")
}

normalise() { # file
	[ -z "$norm" ] && return 0
	sed -f "$here/norm/$norm.sed" "$1" > "$1.n" && mv "$1.n" "$1"
}

# Is dune built with AddressSanitizer (DUNE_SANITIZE)? Qualifies xfail lines.
dune_asan=no
ldd "$dune" 2>/dev/null | grep -q libasan && dune_asan=yes

# The running kernel's version as one number: 6.13 -> 613.
linux_ver=$(uname -r | awk -F'[.-]' '{print $1 * 100 + $2}')

# xfail_reason NAME MODE: the reason xfail.txt gives, or nothing. A line's
# first word is a case-name pattern (sh glob), optionally qualified as
# ring3:PATTERN, ring0:PATTERN, asan:PATTERN (dune built with ASan) or
# linux>=X.Y:PATTERN (the host kernel is X.Y or later).
xfail_reason() {
	[ -f "$xfail_file" ] || return 0
	sed -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' "$xfail_file" |
	while read -r pat reason; do
		case $pat in
		ring3:*|ring0:*) [ "${pat%%:*}" = "$2" ] || continue
			pat=${pat#*:} ;;
		asan:*) [ $dune_asan = yes ] || continue; pat=${pat#*:} ;;
		linux\>=*:*) v=${pat%%:*} v=${v#linux>=}
			[ "$linux_ver" -ge $(( ${v%%.*} * 100 + ${v#*.} )) ] ||
				continue
			pat=${pat#*:} ;;
		esac
		# shellcheck disable=SC2254
		case $1 in $pat) echo "$reason"; break ;; esac
	done
}

# Prints PASS/FAIL/SKIP/XFAIL/XPASS lines; returns 0 pass, 1 fail, 77 skip.
run_case() { # mode line
	mode=$1 line=$2
	head=${line%%" -- "*}
	cmd=${line#*" -- "}
	# shellcheck disable=SC2086
	set -- $head
	name=$1
	shift
	fixture="" stdin=/dev/null norm="" timeout=60 expect="" match=""
	needs="" dargs="" case_env="" status="exit 0" dstderr=""
	for o in "$@"; do
		case $o in
		fixture=*) fixture=${o#fixture=} ;;
		stdin=*) stdin=${o#stdin=} ;;
		norm=*) norm=${o#norm=} ;;
		timeout=*) timeout=${o#timeout=} ;;
		expect=*) expect=$(echo "${o#expect=}" | tr : ' ') ;;
		status=*) status=$(echo "${o#status=}" | tr : ' ') ;;
		dstderr=*) dstderr=${o#dstderr=} ;;
		match=*) match=${o#match=} ;;
		needs=*) needs=${o#needs=} ;;
		dargs=*) dargs=$(echo "${o#dargs=}" | tr , ' ') ;;
		env=*) case_env="$case_env
${o#env=}" ;;
		*) echo "ERROR $mode $name: unknown option $o in cases.txt"
		   return 1 ;;
		esac
	done
	tag="$mode $name"
	if [ "$mode" = ring0 ]; then
		why=$(ring0_skip_reason)
		[ -n "$why" ] && { echo "SKIP  $tag: $why"; return 77; }
	fi
	for n in $(echo "$needs" | tr , ' '); do
		command -v "$n" >/dev/null 2>&1 || {
			echo "SKIP  $tag: needs $n (see tests/compat/packages.txt)"
			return 77; }
	done
	xfail=$(xfail_reason "$name" "$mode")
	res=$work/results/$name.$mode
	fix=$work/fixtures/$name.$mode
	scratch=$work/run/$name.$mode
	rm -rf "$res" "$fix"
	mkdir -p "$res" "$fix" "$work/run"
	if [ -n "$fixture" ]; then
		for f in $(echo "$fixture" | tr , ' '); do
			(cd "$fix" && PROGS=$progs SRC=$here . "$here/fixtures.sh" &&
				"fx_$f") > "$res/fixture.log" 2>&1 || {
				echo "ERROR $tag: fixture $f failed:"
				sed 's/^/  /' "$res/fixture.log"
				return 1; }
		done
	fi
	PROGS=$progs SRC=$here
	eval "set -- $cmd"
	eval "stdin=$stdin"

	why=""
	if [ -z "$expect" ]; then
		run_one native "$@" || return 1
		run_one dune "$dune" run --mode "$mode" $dargs -- "$@" || return 1
		[ -n "$dstderr" ] && ! grep -Eq "$dstderr" "$res/dune.err" && why="$why
  dune's stderr has no line matching /$dstderr/"
		for s in native dune; do
			normalise "$res/$s.out"
			normalise "$res/$s.err"
		done
		ns=$(head -n1 "$res/native.status") ds=$(head -n1 "$res/dune.status")
		if [ "$ns" != "$status" ]; then
			echo "ERROR $tag: the native run ended with '$ns', not" \
				"'$status': the case is broken (outputs in $res)"
			sed 's/^/    /' "$res/native.err" | tail -n 5
			return 1
		fi
		[ "$ns" = "$ds" ] || why="$why
  wait status: native '$ns', dune '$ds'"
		cmp -s "$res/native.out" "$res/dune.out" || why="$why
  stdout differs:
$(diff -u "$res/native.out" "$res/dune.out" 2>&1 | head -n 30 | cut -c1-200 | sed 's/^/    /')"
		cmp -s "$res/native.err" "$res/dune.err" || why="$why
  stderr differs:
$(diff -u "$res/native.err" "$res/dune.err" 2>&1 | head -n 30 | cut -c1-200 | sed 's/^/    /')"
	else
		# A bad-input case: dune itself must refuse, with the given
		# status and one line on stderr that names the problem.
		run_one dune "$dune" run --mode "$mode" $dargs -- "$@" || return 1
		ds=$(head -n1 "$res/dune.status")
		[ "$ds" = "$expect" ] || why="$why
  wait status: expected '$expect', got '$ds'"
		[ -s "$res/dune.out" ] && why="$why
  stdout not empty: $(head -c 200 "$res/dune.out")"
		nl=$(wc -l < "$res/dune.err")
		first=$(head -n1 "$res/dune.err")
		if [ "$nl" != 1 ] || [ "$(wc -c < "$res/dune.err")" -le 1 ]; then
			why="$why
  stderr is not exactly one line ($nl lines):
$(head -n 5 "$res/dune.err" | sed 's/^/    /')"
		fi
		case $first in dune:*) ;; *) why="$why
  stderr does not start with 'dune:': $first" ;; esac
		[ -n "$match" ] && ! grep -Eq "$match" "$res/dune.err" && why="$why
  stderr does not match /$match/: $first"
	fi
	ms_n=$(sed -n 's/^ms //p' "$res/native.status" 2>/dev/null)
	ms_d=$(sed -n 's/^ms //p' "$res/dune.status")
	times="dune ${ms_d}ms${ms_n:+, native ${ms_n}ms}"
	[ $keep = 1 ] || rm -rf "$scratch" "$fix"
	if [ -z "$why" ]; then
		if [ -n "$xfail" ]; then
			echo "XPASS $tag ($times): listed in xfail.txt ($xfail) but passes; remove it from tests/compat/xfail.txt"
			return 1
		fi
		echo "PASS  $tag ($times)"
		[ $keep = 1 ] || rm -rf "$res"
		return 0
	fi
	if [ -n "$xfail" ]; then
		echo "XFAIL $tag ($times): known failure (xfail.txt): $xfail"
		echo "$why" | sed '1d'
		return 77
	fi
	echo "FAIL  $tag ($times):$why"
	echo "  outputs kept in $res"
	return 1
}

[ $# -eq 0 ] && set -- $(table | awk '{print $1}')
total=0 passed=0 failed=0 skipped=0
t0=$(date +%s)
for want in "$@"; do
	line=$(table | awk -v n="$want" '$1 == n { print; exit }')
	if [ -z "$line" ]; then
		echo "compat.sh: no case '$want' in $cases_file" >&2
		exit 2
	fi
	for mode in $modes; do
		total=$((total + 1))
		run_case "$mode" "$line"
		case $? in
		0) passed=$((passed + 1)) ;;
		77) skipped=$((skipped + 1)) ;;
		*) failed=$((failed + 1)) ;;
		esac
	done
done
if [ $total -gt 1 ]; then
	echo "compat: $total run, $passed passed, $failed failed, $skipped skipped or known failures, $(( $(date +%s) - t0 ))s"
fi
[ $failed -gt 0 ] && exit 1
[ $skipped -eq $total ] && exit 77
exit 0
