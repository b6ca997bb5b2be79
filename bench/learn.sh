#!/bin/bash
# bench/learn.sh: the whole `armorer learn --stdout` CLI process against
# aa-logprof's log phase (python3-apparmor's ReadLog.read_log, the code
# aa-logprof runs before its first question), on the shared synthetic corpus
# (../shared/bench/gen_aalog.py -f kernlog --style legacy --seed 42), in one
# run: the two commands alternate, ROUNDS times, on one core (taskset -c 0,
# GOMAXPROCS=1), warm page cache. /usr/bin/time -v gives wall, CPU
# (user+sys) and max RSS of each run; the best (least CPU) and the medians
# and their ratios are printed, with the load average (the build machine is
# shared).
#
#   bench/learn.sh [-n LINES] [-r ROUNDS] [-f FILE]   (run from the repository root)
#
# Defaults: 1,000,000 lines, 3 rounds; -f reuses a generated file. Needs
# Debian's apparmor-utils (python3-apparmor) for the peer.
set -eu
lines=1000000 rounds=3 file=
while getopts n:r:f: opt; do
	case $opt in
	n) lines=$OPTARG ;;
	r) rounds=$OPTARG ;;
	f) file=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shared=${SHARED_BENCH:-$(cd "$(dirname "$0")/../../shared/bench" 2>/dev/null && pwd || echo /work/shared/bench)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOMAXPROCS=1

if [ -z "$file" ]; then
	file=$work/corpus.log
	python3 "$shared/gen_aalog.py" -f kernlog --style legacy -n "$lines" --seed 42 -o "$file"
fi
go build -o "$work/armorer" ./cmd/armorer
mkdir "$work/profiles" # learn from nothing: every profile is new
cat "$file" >/dev/null  # warm the page cache

# measure NAME CMD...: one run under /usr/bin/time -v; appends
# "NAME wall cpu rss_kb" to $work/results.
measure() {
	name=$1
	shift
	/usr/bin/time -v -o "$work/time" taskset -c 0 "$@" >"$work/out" 2>"$work/err" || {
		echo "FAIL: $name exited non-zero:" >&2
		tail -5 "$work/err" >&2
		exit 1
	}
	awk -v name="$name" '
		/Elapsed \(wall clock\)/ { n = split($NF, t, ":"); wall = t[n] + (n > 1 ? 60 * t[n-1] : 0) + (n > 2 ? 3600 * t[n-2] : 0) }
		/User time/ { user = $NF }
		/System time/ { sys = $NF }
		/Maximum resident set size/ { rss = $NF }
		END { printf "%s %.2f %.2f %d\n", name, wall, user + sys, rss }' "$work/time" | tee -a "$work/results"
}

echo "corpus: $file, $(wc -l <"$file") lines, $(stat -c %s "$file") bytes; $rounds rounds, one core"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tool wall_s cpu_s max_rss_kb"
for _ in $(seq "$rounds"); do
	measure armorer "$work/armorer" learn --dir "$work/profiles" --stdout "$file"
	measure read_log /usr/bin/python3 "$shared/bench_pylogparser.py" -m read_log "$file"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

median() { grep "^$1 " "$work/results" | awk -v f="$2" '{ print $f }' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
aw=$(median armorer 2) ac=$(median armorer 3) ar=$(median armorer 4)
pw=$(median read_log 2) pc=$(median read_log 3) pr=$(median read_log 4)
printf 'median armorer learn --stdout: %.2f s wall, %.2f s CPU, %.0f MiB max RSS\n' "$aw" "$ac" "$(echo "$ar / 1024" | bc -l)"
printf 'median aa-logprof read_log:    %.2f s wall, %.2f s CPU, %.0f MiB max RSS\n' "$pw" "$pc" "$(echo "$pr / 1024" | bc -l)"
printf 'armorer vs read_log: %.2fx faster by wall, %.2fx by CPU (target >= 5x; under 2 s, <= 256 MiB)\n' \
	"$(echo "$pw / $aw" | bc -l)" "$(echo "$pc / $ac" | bc -l)"
best() { grep "^$1 " "$work/results" | sort -k3 -n | head -1; }
read -r _ bw bc br <<<"$(best armorer)"
read -r _ qw qc qr <<<"$(best read_log)"
printf 'best of %d by CPU: armorer %.2f s CPU (%.0f MiB), read_log %.2f s CPU (%.0f MiB): armorer %.2fx faster by CPU\n' \
	"$rounds" "$bc" "$(echo "$br / 1024" | bc -l)" "$qc" "$(echo "$qr / 1024" | bc -l)" "$(echo "$qc / $bc" | bc -l)"
