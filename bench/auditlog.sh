#!/bin/bash
# bench/auditlog.sh: armorer's audit log parser against libapparmor's
# parse_record() (the C parser aa-logprof uses, from libapparmor-dev) and
# `grep -c 'apparmor='` (the I/O floor), on one generated corpus of N mixed
# lines (half AppArmor events in the kernel 6.1 layout, half other lines),
# in one run, warm cache, one core. Both parsers must count the same events.
#
#   bench/auditlog.sh [LINES]        (default 1000000; run from the repository root)
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
