package auditlog

import "testing"

func TestLabelMatches(t *testing.T) {
	for _, tc := range []struct {
		label, p string
		want     bool
	}{
		{"app", "app", true},
		{"app//hat", "app", true},
		{"app//null-/usr/bin/id", "app", true},
		{"application", "app", false},
		{"app2//app", "app", false},
		{"other//&app", "app", true},
		{"app//&other", "app", true},
		{"other//&app//child", "app", true},
		{"other//&apple", "app", false},
		{":ns:app", "app", true},
		{":ns://app//hat", "app", true},
		{"/usr/bin/foo", "/usr/bin/foo", true},
		{"unconfined", "app", false},
		{"app", "", false},
	} {
		if got := LabelMatches(tc.label, tc.p); got != tc.want {
			t.Errorf("LabelMatches(%q, %q) = %v, want %v", tc.label, tc.p, got, tc.want)
		}
	}
}
