#!/usr/bin/env bash
# bench/run.sh: build the harness if needed, run every benchmark, write bench/results/<name>.csv and print a side-by-side table.
#
# usage: bench/run.sh [BUILD_DIR] [BENCHMARK...]
#   BUILD_DIR  build directory (default: build/ at the top of the tree); it is
#              configured as Release with Ninja if it has not been configured
#   BENCHMARK  any of: syscall enter compute run_true run_syscalls run_compute
#              appel dirty gups cap pager replica (default: all of them, in
#              that order); `privileged` stands for appel dirty, `caps` for
#              gups cap, `paging` for pager replica.
#              appel or dirty also draws docs/privileged-api.png (gnuplot,
#              from scripts/deps.sh)
# environment: BENCH_JOBS (build jobs, default 2), BENCH_RESULTS (output dir,
#              default bench/results), BENCH_REPS_SCALE (multiply repetition
#              counts of the whole-program runs, default 1), BENCH_GUPS_MB
#              (GUPS table sizes in MiB, default 1024,256)
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
[ $# -gt 0 ] && shift
ALL="syscall enter compute run_true run_syscalls run_compute appel dirty gups cap pager replica"
WANT=${*:-$ALL}
WANT=$(echo " $WANT " | sed 's/ privileged / appel dirty /g; s/ caps / gups cap /g; s/ paging / pager replica /g')
JOBS=${BENCH_JOBS:-2}
RES=${BENCH_RESULTS:-$ROOT/bench/results}
SCALE=${BENCH_REPS_SCALE:-1}

for b in $WANT; do
	case " $ALL " in *" $b "*) ;; *)
		echo "bench/run.sh: unknown benchmark '$b' (known: $ALL)" >&2
		exit 2 ;;
	esac
done

# ---- build ------------------------------------------------------------------
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	gen=()
	command -v ninja >/dev/null && gen=(-G Ninja)
	cmake -S "$ROOT" -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
		>/dev/null || { echo "bench/run.sh: cmake configure failed" >&2; exit 1; }
fi
if ! log=$(cmake --build "$BUILD" --target benchmarks -j "$JOBS" 2>&1); then
	echo "$log" | grep -E -A4 'error|FAILED' | head -40 >&2
	echo "bench/run.sh: build failed (cmake --build $BUILD --target benchmarks)" >&2
	exit 1
fi
BTYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
[ "$BTYPE" = Release ] || echo "bench/run.sh: warning: $BUILD is a '$BTYPE' build, not Release; numbers are not comparable with docs/benchmarks.md" >&2
B=$BUILD/bench
DUNE=$BUILD/dune
mkdir -p "$RES"

# bench_appel's ring-0 instruction counts are static counts along guestlib's
# stubs; say so when the stubs no longer have the sizes they were made on.
r0note=""
case " $WANT " in *" appel "*)
	want="gl_fast_14=6 gl_fast_6=3 gl_resume=25 gl_ud_fast=39 gl_upcall=56"
	have=$(objdump -d --no-show-raw-insn "$B/bench_appel" 2>/dev/null | awk '
		/^[0-9a-f]+ <gl_(fast_14|fast_6|ud_fast|upcall|resume)>:/ {
			name = substr($2, 2, length($2) - 3); next }
		/^$/ { name = "" }
		name && /^ +[0-9a-f]+:/ { n[name]++ }
		END { for (k in n) print k "=" n[k] }' | sort | paste -sd' ')
	[ "$have" = "$want" ] || r0note="STALE: guestlib's stubs changed ($have; counted on $want): recount R0_* in bench/bench_appel.c" ;;
esac

# ---- what this run is ------------------------------------------------------
pmu="no PMU (perf stat -e instructions: <not supported>); times are clock_gettime(CLOCK_MONOTONIC)"
if command -v perf >/dev/null &&
	perf stat -x, -e instructions true 2>&1 | grep -q '^[0-9]'; then
	pmu="present (not used: times are clock_gettime(CLOCK_MONOTONIC))"
fi
{
	echo "date:       $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "commit:     $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || echo ' (tree modified)')"
	echo "cpu:        $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cpus"
	echo "kernel:     $(uname -r), kvm modules: $(ls /sys/module 2>/dev/null | grep "^kvm" | paste -sd, -)"
	echo "virt:       $("$DUNE" info --no-measure 2>/dev/null | sed -n 's/^virtualization: *//p')"
	echo "build:      $BUILD ($BTYPE)"
	echo "pmu:        $pmu"
	[ -n "$r0note" ] && echo "ring-0:     $r0note"
	echo "load avg:   $(cut -d' ' -f1-3 /proc/loadavg) (at start; other work on the machine adds noise)"
} | tee "$RES/env.txt"
echo

# ---- run ---------------------------------------------------------------------
reps() { echo $(( $1 * SCALE )); }
failed=""
run() { # run NAME COMMAND...: CSV on stdout -> $RES/NAME.csv
	local name=$1; shift
	local t0=$SECONDS
	printf 'running %-14s ... ' "$name" >&2
	if "$@" >"$RES/$name.csv.tmp" 2>"$RES/$name.err.tmp"; then
		mv "$RES/$name.csv.tmp" "$RES/$name.csv"
		echo "done ($((SECONDS - t0)) s)" >&2
	else
		echo "FAILED ($((SECONDS - t0)) s):" >&2
		sed 's/^/    /' "$RES/$name.err.tmp" >&2
		# Keep the rows that were written (a goal not met still writes).
		[ -s "$RES/$name.csv.tmp" ] && mv "$RES/$name.csv.tmp" "$RES/$name.csv"
		failed="$failed $name"
	fi
	rm -f "$RES/$name.csv.tmp" "$RES/$name.err.tmp"
}

for b in $WANT; do
	case $b in
	syscall) run syscall "$B/bench_syscall" ;;
	enter) run enter "$B/bench_enter" ;;
	compute) run compute "$B/bench_compute" 9 ;;
	run_true) run run_true "$B/bench_run" --dune "$DUNE" --name run_true \
		--reps "$(reps 21)" -- /bin/true ;;
	run_syscalls) run run_syscalls "$B/bench_run" --dune "$DUNE" \
		--name run_syscalls --ops 20000 --op-name pair \
		--reps "$(reps 5)" -- "$B/prog_syscalls" 20000 ;;
	run_compute)
		# Size the work once, natively, so both variants do the same.
		read -r ni nf < <("$B/prog_compute" --calibrate 1.0)
		run run_compute "$B/bench_run" --dune "$DUNE" --name run_compute \
			--reps "$(reps 9)" -- "$B/prog_compute" "$ni" "$nf" ;;
	appel) run appel "$B/bench_appel" ;;
	dirty) run dirty "$B/bench_dirty" ;;
	gups) run gups "$B/bench_gups" --size-mb "${BENCH_GUPS_MB:-1024,256}" ;;
	cap) run cap "$B/bench_cap" ;;
	pager) run pager "$B/bench_pager" pager ;;
	replica) run replica "$B/bench_pager" replica ;;
	esac
done

# ---- report ------------------------------------------------------------------
all=$RES/all.csv
first=1
: >"$all"
for b in $WANT; do
	[ -f "$RES/$b.csv" ] || continue
	if [ $first = 1 ]; then cat "$RES/$b.csv"; first=0; else tail -n +2 "$RES/$b.csv"; fi
done >"$all"
echo "load avg:   $(cut -d' ' -f1-3 /proc/loadavg) (at end)" | tee -a "$RES/env.txt"
echo

awk -F, '
function f(x) {
	if (x == "") return "-"
	a = x < 0 ? -x : x
	if (a >= 1000) return sprintf("%.0f", x)
	if (a >= 100) return sprintf("%.1f", x)
	if (a >= 10) return sprintf("%.2f", x)
	return sprintf("%.3f", x)
}
function r(x) { return x == "" ? "-" : sprintf("%.3fx", x) }
NR == 1 { next }
{
	rows[++n] = sprintf("%-20s %-12s %9s %9s %9s  %-3s %11s %9s %11s %9s",
		$1, $2, f($4), f($5), f($6), $9, r($10), f($11), f($12), f($14))
	if ($15 != "") goals[++g] = sprintf("  %-20s %-12s %s", $1, $2, $15)
}
END {
	printf "%-20s %-12s %9s %9s %9s  %-3s %11s %9s %11s %9s\n", "benchmark",
		"variant", "median", "p10", "p90", "unit", "dune/native",
		"exits/op", "syscalls/op", "ring0/op"
	for (i = 1; i <= n; i++) print rows[i]
	if (g) { print ""; print "goals:"; for (i = 1; i <= g; i++) print goals[i] }
}' "$all"
echo
echo "CSV: $RES/{$(echo $WANT | tr ' ' ',')}.csv and all.csv (notes in the last column)"

# ---- plot: the privileged API (from the latest appel.csv and dirty.csv) --------
case " $WANT " in *" appel "* | *" dirty "*)
	png=$ROOT/docs/privileged-api.png
	if ! command -v gnuplot >/dev/null; then
		echo "bench/run.sh: no gnuplot (scripts/deps.sh installs gnuplot-nox): $png not drawn" >&2
	elif [ ! -s "$RES/appel.csv" ] || [ ! -s "$RES/dirty.csv" ]; then
		echo "bench/run.sh: $png needs both appel.csv and dirty.csv in $RES: not drawn" >&2
	else
		dat=$(mktemp -d)
		awk -F, -v cols="dune sigsegv uffd_miss uffd_wp wp_async" '
		NR > 1 && $1 ~ /^(user_fault|trap|prot1|protN|unprot|appel1|appel2)$/ {
			v[$1, $2] = $4
			if (!($1 in seen)) { seen[$1]; order[++n] = $1 }
		}
		END {
			k = split(cols, c, " ")
			print "primitive", cols
			for (i = 1; i <= n; i++) {
				line = order[i]
				for (j = 1; j <= k; j++)
					line = line " " (v[order[i], c[j]] == "" ? "?" : v[order[i], c[j]])
				print line
			}
		}' "$RES/appel.csv" >"$dat/appel.dat"
		awk -F, -v all="dune pagemap_scan soft_dirty" '
		NR > 1 { v[$1, $2] = $4; if ($4 != "") has[$2] }
		END {
			n = split(all, a, " ")
			for (j = 1; j <= n; j++) # only the variants measured
				if (a[j] in has) { c[++k] = a[j]; cols = cols " " a[j] }
			print "step" cols
			split("dirty_write dirty_scan dirty_scan_clear", op, " ")
			split("write_4096_pages scan scan+clear", name, " ")
			for (i = 1; i <= 3; i++) {
				line = name[i]
				for (j = 1; j <= k; j++) {
					x = v[op[i], c[j]]
					if (x != "" && i == 1) x = x * 4096 / 1000
					line = line " " (x == "" ? "?" : x)
				}
				print line
			}
		}' "$RES/dirty.csv" >"$dat/dirty.dat"
		info="$(sed -n 's/^virt: *//p' "$RES/env.txt"); $(sed -n 's/^date: *//p' "$RES/env.txt")"
		if gnuplot -e "appel='$dat/appel.dat'; dirty='$dat/dirty.dat'; out='$png'; info='${info//\'/}'" \
			"$ROOT/bench/plot_privileged.gp"; then
			echo "plot: $png"
		else
			echo "bench/run.sh: gnuplot failed: $png not drawn" >&2
		fi
		rm -rf "$dat"
	fi ;;
esac
if [ -n "$failed" ]; then
	echo "FAILED:$failed" >&2
	exit 1
fi
if grep -q 'NOT met' "$all"; then
	echo "some goals are NOT met (see above)" >&2
	exit 1
fi
