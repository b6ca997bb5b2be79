package aare

import "testing"

func TestExecConflicts(t *testing.T) {
	px := ExecMode{Kind: ExecProfile}
	ix := ExecMode{Kind: ExecInherit}
	cx := ExecMode{Kind: ExecChild, Clean: true, Target: "foo"}
	pix := ExecMode{Kind: ExecProfile, Clean: true, Fallback: ExecInherit}
	r := func(pat string, m ExecMode) Rule { return Rule{Pattern: pat, Perms: PermExec, Exec: m} }
	for _, tc := range []struct {
		name  string
		rules []Rule
		want  []ExecConflict
	}{
		{"same path", []Rule{r("/bin/t", px), r("/bin/t", ix)}, []ExecConflict{{0, 1, "/bin/t"}}},
		{"same mode", []Rule{r("/bin/t", px), r("/bin/t", px)}, nil},
		{"exact over glob", []Rule{r("/bin/*", ix), r("/bin/t", px)}, nil},
		{"two globs", []Rule{r("/bin/*", ix), r("/bin/t*", px)}, []ExecConflict{{0, 1, "/bin/t"}}},
		{"disjoint", []Rule{r("/a*", ix), r("/b*", px)}, nil},
		{"issue 11", []Rule{r("/b*", px), r("/*", pix), r("/a*", cx)}, []ExecConflict{{0, 1, "/b"}, {1, 2, "/a"}}},
		{"owner vs other", []Rule{{Pattern: "/bin/*", Perms: PermExec, Exec: ix, Owner: true}, r("/bin/t*", px)}, []ExecConflict{{0, 1, "/bin/t"}}},
		{"deny takes no part", []Rule{{Pattern: "/bin/t", Perms: PermExec, Deny: true}, r("/bin/t", px)}, nil},
		{"targets differ", []Rule{r("/bin/t", ExecMode{Kind: ExecProfile, Target: "a"}), r("/bin/t", ExecMode{Kind: ExecProfile, Target: "b"})}, []ExecConflict{{0, 1, "/bin/t"}}},
	} {
		got, res, err := ExecConflicts(tc.rules, nil, nil)
		if err != nil || res != Yes {
			t.Fatalf("%s: %v %v", tc.name, res, err)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			}
		}
	}
}
