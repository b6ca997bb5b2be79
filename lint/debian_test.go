package lint

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/armorer-dev/armorer/internal/testenv"
	"github.com/armorer-dev/armorer/policy"
)

// TestDebianProfiles runs every check over the profiles Debian ships: the
// checks must cope with real policy (no panic, no error turned into a
// finding) and find what a reviewer would (Debian's profiles do use ux).
func TestDebianProfiles(t *testing.T) {
	var files []string
	for _, dir := range []string{"/etc/apparmor.d", "/usr/share/apparmor/extra-profiles"} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			testenv.Missing(t, "%v (install apparmor-profiles and apparmor-profiles-extra)", err)
		}
		for _, e := range ents {
			if e.Type().IsRegular() && !policy.SkippedName(e.Name()) && e.Name() != "README" {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	l := policy.NewLoader()
	byID := map[string]int{}
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		res := policy.CheckFile(l, name, src, policy.CheckConfig{})
		for _, d := range Run(l, res, Analyzers) {
			byID[d.Category]++
		}
	}
	t.Logf("%d files; findings by check: %v", len(files), byID)
	for _, id := range []string{"L003", "L005", "L008"} {
		if byID[id] == 0 {
			t.Errorf("no %s finding in Debian's profiles, which are known to contain them", id)
		}
	}
	if !slices.ContainsFunc(files, func(f string) bool { return filepath.Base(f) == "usr.sbin.dnsmasq" }) {
		t.Log("usr.sbin.dnsmasq not found; corpus differs from Debian 12's")
	}
}
