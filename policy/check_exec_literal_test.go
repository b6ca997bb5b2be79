package policy_test

import (
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/policy"
)

// Exec rules on distinct literal paths never conflict (the checker skips
// their automaton); the same path twice, or paths that matching folds to
// one ("//"), or globs still do.
func TestExecConflictsLiteralPaths(t *testing.T) {
	for _, tc := range []struct {
		body string
		want int // conflicts
	}{
		{"/usr/bin/ls ix,\n/usr/bin/bash px,\n/opt/my-app/bin/tool_2 cx,", 0},
		{"/usr/bin/ls ix,\n/usr/bin/ls px,", 1},
		{"/usr/bin//ls ix,\n/usr/bin/ls px,", 1},
		{"/usr/bin/l? ix,\n/usr/bin/?s px,", 1},
		{"/usr/bin/l? ix,\n/usr/bin/ls px,", 0}, // the exact rule wins
		{"/usr/bin/{ls,cat} ix,\n/usr/bin/cat px,", 1},
		{"@{bin}/ls ix,\n/usr/bin/ls px,", 1},
		{"/usr/bin/ls ix,\n/usr/bin/ls ix,", 0},
	} {
		src := "abi <abi/3.0>,\n@{bin} = /usr/bin\nprofile p {\n" + tc.body + "\n}\n"
		res := policy.CheckFile(policy.NewLoader(t.TempDir()), "p", []byte(src), policy.CheckConfig{})
		n := 0
		for _, d := range res.Diagnostics {
			if strings.Contains(d.Message, "conflicting exec modes") {
				n++
			}
		}
		if n != tc.want {
			t.Errorf("%q: %d conflicts, want %d: %v", tc.body, n, tc.want, res.Diagnostics)
		}
	}
}
