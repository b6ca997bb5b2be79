#!/bin/sh
# Times armorer's policy package against apparmor_parser on Debian's profile
# corpus, in the same run: armorer parses every profile with its includes
# resolved and formats every parsed file; ONE apparmor_parser -QK -p
# invocation preprocesses every file with its includes expanded. Prints both
# times and the ratio (target: armorer at least 10x faster). The Go
# benchmark of the same work is BenchmarkParseCorpus in ./policy.
#
#   bench/policy.sh [-n RUNS] [-parser /path/to/apparmor_parser]
set -eu
cd "$(dirname "$0")/.."
files=$(find /etc/apparmor.d /usr/share/apparmor/extra-profiles -maxdepth 1 -type f \
	! -name '.*' ! -name README ! -name '*.dpkg-*' ! -name '*~' 2>/dev/null | sort)
if [ -z "$files" ]; then
	echo "bench/policy.sh: no profiles found; install apparmor-profiles and apparmor-profiles-extra" >&2
	exit 1
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/policybench" ./bench/policybench
# shellcheck disable=SC2086 # one argument per file
"$bin/policybench" "$@" $files
