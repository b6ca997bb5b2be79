package cli

import "testing"

// Debian's own profiles are packaged; a profile armorer wrote is not.
func TestPackaged(t *testing.T) {
	if !packaged("/etc/apparmor.d/abstractions/base") {
		t.Skip("no dpkg-installed apparmor here")
	}
	if packaged("/etc/apparmor.d/opt.myapp.bin.myapp") {
		t.Error("a file no package installed counts as packaged")
	}
	for mode, want := range map[string]bool{"always": true, "never": false} {
		if got := useLocal(mode, "/nonexistent"); got != want {
			t.Errorf("useLocal(%s) = %v", mode, got)
		}
	}
}
