#!/bin/bash
# bench/auditlog.sh: armorer's audit log parser against libapparmor's
# parse_record() (the C parser aa-logprof uses, from libapparmor-dev) and
# `grep -c 'apparmor='` (the I/O floor), on one generated corpus of N mixed
# lines (half AppArmor events in the kernel 6.1 layout, half other lines),
# in one run, warm cache, one core. Both parsers must count the same events.
#
#   bench/auditlog.sh [LINES]        (default 1000000; run from the repository root)
#
# Then issue 14 section 5, on the shared corpus (../shared/bench/gen_aalog.py
# -f kernlog --style legacy --seed 42, LINES lines): the whole
# `armorer events --summary` CLI process (start-up, pipeline, de-duplication,
# summary) against the shared parse_record() harness
# (../shared/bench/aalogparse_bench.c) and `grep -c apparmor=`, alternated
# in ROUNDS rounds (default 5, $ROUNDS), on one core (GOMAXPROCS=1) and on
# every core with Go's default GOMAXPROCS: best and median CPU time
# (user+sys), wall and max RSS from /usr/bin/time -v.
set -eu
TIMEFORMAT='%3U %3S'
lines=${1:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOMAXPROCS=1

go run ./bench/auditlogcorpus -n "$lines" >"$work/corpus.log"
go build -o "$work/armorer-count" ./bench/auditlogcount
gcc -O2 -o "$work/libapparmor-count" bench/auditlog_harness.c -lapparmor

size=$(stat -c %s "$work/corpus.log")
cat "$work/corpus.log" >/dev/null # warm the page cache

# run NAME CMD...: run once to warm up, then the best of 3 by CPU time
# (user+sys: this machine is shared, so wall time measures the neighbours
# too); sets $out and $secs. Output goes to a file: GNU grep stops at the
# first match when its output is /dev/null.
run() {
	name=$1
	shift
	out=$("$@")
	best=
	for _ in 1 2 3; do
		{ time "$@" >"$work/out"; } 2>"$work/time" # bash's time: CPU to the millisecond
		t=$(awk '{ printf "%.3f", $1 + $2 }' "$work/time")
		if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
	done
	secs=$best
	[ "$(echo "$secs > 0" | bc)" = 1 ] || secs=0.001
	printf '%-12s %10s events  %8.3f s CPU  %12.0f lines/s  %8.1f MB/s\n' "$name" "$out" "$secs" \
		"$(echo "$lines / $secs" | bc -l)" "$(echo "$size / $secs / 1000000" | bc -l)"
}

echo "corpus: $lines lines, $size bytes, GOMAXPROCS=1, best CPU time (user+sys) of 3 after a warm-up run"
run armorer "$work/armorer-count" "$work/corpus.log"
a_out=$out a_secs=$secs
run libapparmor "$work/libapparmor-count" count "$work/corpus.log"
l_out=$out l_secs=$secs
run grep grep -c 'apparmor=' "$work/corpus.log"
g_secs=$secs

if [ "$a_out" != "$l_out" ]; then
	echo "FAIL: armorer counts $a_out events, libapparmor $l_out: the parsers did not do the same work" >&2
	exit 1
fi
printf 'armorer vs libapparmor: %.1fx faster (target >= 10x)\n' "$(echo "$l_secs / $a_secs" | bc -l)"
printf 'armorer vs grep -c:     %.2fx grep'"'"'s CPU time\n' "$(echo "$a_secs / $g_secs" | bc -l)"

# Issue 14 section 5: whole processes on the shared corpus.
shared=${SHARED_BENCH:-$(cd "$(dirname "$0")/../../shared/bench" 2>/dev/null && pwd || echo /work/shared/bench)}
rounds=${ROUNDS:-5}
python3 "$shared/gen_aalog.py" -f kernlog --style legacy -n "$lines" --seed 42 -o "$work/shared.log"
go build -o "$work/armorer" ./cmd/armorer
cc -O2 -o "$work/aalogparse_bench" "$shared/aalogparse_bench.c" $(pkg-config --cflags --libs libapparmor)
cat "$work/shared.log" >/dev/null
: >"$work/results"
# measure NAME CMD...: one run under /usr/bin/time -v on core 0
# (GOMAXPROCS=1); appends "NAME wall cpu rss_kb" to $work/results. NAME
# ending in -default runs on every core with Go's default GOMAXPROCS.
measure() {
	name=$1
	shift
	case $name in
	*-default) /usr/bin/time -v -o "$work/time" env -u GOMAXPROCS "$@" >"$work/out" 2>"$work/err" ;;
	*) /usr/bin/time -v -o "$work/time" taskset -c 0 "$@" >"$work/out" 2>"$work/err" ;;
	esac
	awk -v name="$name" '
		/Elapsed \(wall clock\)/ { n = split($NF, t, ":"); wall = t[n] + (n > 1 ? 60 * t[n-1] : 0) }
		/User time/ { user = $NF }
		/System time/ { sys = $NF }
		/Maximum resident set size/ { rss = $NF }
		END { printf "%s %.3f %.3f %d\n", name, wall, user + sys, rss }' "$work/time" >>"$work/results"
}
echo
echo "shared corpus: $lines lines, $(stat -c %s "$work/shared.log") bytes; $rounds alternated rounds; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$rounds"); do
	measure events "$work/armorer" events --summary "$work/shared.log"
	measure events-default "$work/armorer" events --summary "$work/shared.log"
	measure libapparmor "$work/aalogparse_bench" "$work/shared.log"
	measure grep grep -c 'apparmor=' "$work/shared.log"
done
# stat NAME FIELD: the median (stat=median) or the best (stat=best) of a column.
median() { grep "^$1 " "$work/results" | awk -v f="$2" '{ print $f }' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
best() { grep "^$1 " "$work/results" | awk -v f="$2" '{ print $f }' | sort -n | head -1; }
for t in events events-default libapparmor grep; do
	printf '%-15s CPU best %.3f s  median %.3f s   wall median %.3f s  %6.0f MiB max RSS\n' "$t" "$(best $t 3)" "$(median $t 3)" "$(median $t 2)" "$(echo "$(median $t 4) / 1024" | bc -l)"
done
for stat in best median; do
	ec=$($stat events 3) dc=$($stat events-default 3) lc=$($stat libapparmor 3) gc=$($stat grep 3)
	printf '%-6s CPU: events --summary %.1fx faster than libapparmor (default GOMAXPROCS %.1fx; target >= 10x), %.2fx grep'"'"'s time (default %.2fx; target <= 3x)\n' \
		"$stat" "$(echo "$lc / $ec" | bc -l)" "$(echo "$lc / $dc" | bc -l)" "$(echo "$ec / $gc" | bc -l)" "$(echo "$dc / $gc" | bc -l)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
