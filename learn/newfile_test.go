package learn

import (
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/policy"
)

// A new profile's local include names a plain file, whatever its label:
// "x>capability,#" must not become `<local/x>capability,#>`, an include and
// a rule granting every capability.
func TestNewFileLocalInclude(t *testing.T) {
	for name, want := range map[string]string{
		"/usr/bin/app":         "include if exists <local/usr.bin.app>",
		"x>capability,#":       "include if exists <local/x_capability__>",
		"../../etc/x> network": "include if exists <local/__._._etc.x__network>",
	} {
		var b strings.Builder
		if err := policy.Format(&b, nil, ProfileFile{Name: name}.File()); err != nil {
			t.Fatal(err)
		}
		text := b.String()
		if !strings.Contains(text, "\n  "+want+"\n") || strings.Count(text, "include if exists") != 1 {
			t.Errorf("%q:\n%s\nwant one %q", name, text, want)
		}
		for l := range strings.Lines(text) {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "capability") || strings.HasPrefix(l, "network") {
				t.Errorf("%q: rule text from the name:\n%s", name, text)
			}
		}
	}
}
