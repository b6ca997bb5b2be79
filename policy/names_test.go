package policy

import "testing"

func TestSearchInclude(t *testing.T) {
	for _, rel := range []string{"local/usr.bin.app", "abstractions/base", "local/a+b~c-d_e"} {
		inc := SearchInclude(rel, true)
		if inc == nil || inc.Path.Raw != "<"+rel+">" || !inc.IfExists {
			t.Errorf("SearchInclude(%q) = %+v", rel, inc)
		}
	}
	for _, rel := range []string{"", "local/x>capability,#", "local/x> capability", "../etc/x", "local/../x",
		"/etc/passwd", "local//x", "local/.", "local/x y", "local/x\n", `local/"x"`} {
		if inc := SearchInclude(rel, false); inc != nil {
			t.Errorf("SearchInclude(%q) = %q, want nil", rel, inc.Path.Raw)
		}
	}
}
