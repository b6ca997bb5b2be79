package policy_test

import (
	"os"
	"testing"

	"github.com/armorer-dev/armorer/policy"
)

// debianProfiles are the profile files of Debian's apparmor,
// apparmor-profiles and apparmor-profiles-extra packages.
func debianProfiles(tb testing.TB) []string {
	files := profileFiles(tb, "/etc/apparmor.d", "/usr/share/apparmor/extra-profiles")
	if len(files) < 50 {
		if os.Getenv("CI") != "" {
			tb.Fatalf("only %d Debian profiles: install apparmor-profiles and apparmor-profiles-extra", len(files))
		}
		tb.Skipf("only %d Debian profiles installed", len(files))
	}
	return files
}

// parseAndFormatCorpus does in one process what one
// apparmor_parser -QK -p invocation does for every file: read each
// profile, resolve and parse every include (recursively), and print every
// parsed file in canonical form. It returns the bytes read and printed.
func parseAndFormatCorpus(tb testing.TB, files []string) (read, printed int) {
	l := policy.NewLoader()
	seen := map[*policy.File]bool{}
	for _, name := range files {
		f, err := l.Load(name, nil)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		all, err := l.Closure(f)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		for _, g := range all {
			if !seen[g] {
				seen[g] = true
				read += l.Fset.File(g.Pos()).Size()
				printed += len(policy.FormatFile(l.Fset, g))
			}
		}
	}
	return read, printed
}

// BenchmarkParseCorpus parses the whole Debian profile corpus with its
// includes resolved and formats it, in one process. bench/policy.sh
// compares it with one apparmor_parser -QK -p run over the same files.
func BenchmarkParseCorpus(b *testing.B) {
	files := debianProfiles(b)
	read, _ := parseAndFormatCorpus(b, files)
	b.SetBytes(int64(read))
	b.ReportAllocs()
	for b.Loop() {
		parseAndFormatCorpus(b, files)
	}
	b.ReportMetric(float64(len(files)), "files")
}

// BenchmarkCheckCorpus is armorer check over the same corpus: parse,
// includes, variables and every semantic check.
func BenchmarkCheckCorpus(b *testing.B) {
	files := debianProfiles(b)
	b.ReportAllocs()
	for b.Loop() {
		l := policy.NewLoader()
		for _, f := range files {
			if res := policy.CheckFile(l, f, nil, policy.CheckConfig{}); !res.Valid() {
				b.Fatalf("%s: %v", f, res.Errors())
			}
		}
	}
}
