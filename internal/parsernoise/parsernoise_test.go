package parsernoise

import "testing"

func TestFilter(t *testing.T) {
	const noise = Line + ". (Kernel needs AppArmor 2.4 compatibility patch.)\n"
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{noise, ""},
		{noise + noise, ""},
		{noise + "AppArmor parser error at line 2: syntax error\n", "AppArmor parser error at line 2: syntax error\n"},
		{"first\n" + noise + "last", "first\nlast"},
		{"  indented " + Line + "\n", "  indented " + Line + "\n"}, // only a line that starts with it
	} {
		if got := Filter(tc.in); got != tc.want {
			t.Errorf("Filter(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
