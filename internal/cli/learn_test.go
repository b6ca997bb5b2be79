package cli

import (
	"testing"

	"github.com/armorer-dev/armorer/host"
)

func TestUseLocal(t *testing.T) {
	set := host.OpenProfileSet(t.TempDir())
	set.DpkgInfo = t.TempDir() // no package installed anything
	for mode, want := range map[string]bool{"always": true, "never": false, "auto": false} {
		if got := useLocal(mode, set, "/nonexistent"); got != want {
			t.Errorf("useLocal(%s) = %v", mode, got)
		}
	}
}
