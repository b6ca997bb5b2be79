package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/armorer-dev/armorer/internal/oracle"
	"github.com/armorer-dev/armorer/policy"
)

// profileFiles lists the profile files of dirs, skipping the names
// apparmor_parser skips.
func profileFiles(t testing.TB, dirs ...string) []string {
	var files []string
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.Type().IsRegular() && !policy.SkippedName(e.Name()) {
				files = append(files, filepath.Join(d, e.Name()))
			}
		}
	}
	return files
}

// TestCheckAgreesOnShippedProfiles checks every profile Debian ships with
// armorer and with the matching real parser: Debian 12's packages against
// apparmor_parser 3.0.8 (target from each file's abi line), Debian 13's
// apparmor package against 4.1. Both must agree on every file.
func TestCheckAgreesOnShippedProfiles(t *testing.T) {
	p41 := oracle.Require(t, "4.1")
	for _, tc := range []struct {
		version string
		target  policy.Version
		dirs    []string
	}{
		{"3.0", policy.Version{}, []string{"/etc/apparmor.d", "/usr/share/apparmor/extra-profiles"}},
		{"4.1", policy.V4_1, []string{p41.IncludeDir}},
	} {
		t.Run(tc.version, func(t *testing.T) {
			p := oracle.Require(t, tc.version)
			files := profileFiles(t, tc.dirs...)
			if len(files) < 50 {
				if os.Getenv("CI") != "" {
					t.Fatalf("only %d profiles in %v: install apparmor-profiles and apparmor-profiles-extra", len(files), tc.dirs)
				}
				t.Skipf("only %d profiles in %v", len(files), tc.dirs)
			}
			l := policy.NewLoader(p.IncludeDir)
			l.Base = p.IncludeDir
			verdict := make([]bool, len(files))
			stderr := make([]string, len(files))
			var wg sync.WaitGroup
			sem := make(chan struct{}, 2)
			for i, f := range files {
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					ok, se, err := p.ValidateFile(context.Background(), f, nil)
					if err != nil {
						t.Error(err)
					}
					verdict[i], stderr[i] = ok, se
				})
			}
			wg.Wait()
			accepted, disagree := 0, 0
			for i, f := range files {
				res := policy.CheckFile(l, f, nil, policy.CheckConfig{Target: tc.target})
				if res.Valid() != verdict[i] {
					disagree++
					t.Errorf("%s: armorer valid=%v, apparmor_parser %s accepted=%v\n  armorer: %v\n  parser: %s", f, res.Valid(), p.Version, verdict[i], res.Errors(), stderr[i])
				}
				if verdict[i] {
					accepted++
				}
			}
			t.Logf("%d files (%d accepted by apparmor_parser %s): armorer disagrees on %d", len(files), accepted, p.Version, disagree)
		})
	}
}

// TestCheckSelfInclude: a profile file that includes itself (issue 13, item
// 16). apparmor_parser does not put the file it compiles in its include
// cache, so the first include reads the file once more: its profiles are
// defined twice at the top level, and inside a profile the includes nest
// until the parser gives up. Both parsers refuse every variant, and so must
// check.
func TestCheckSelfInclude(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "self")
	for _, tc := range []struct{ name, text string }{
		{"top-quoted", "include \"" + self + "\"\nprofile selfy { /a r, }\n"},
		{"top-magic", "include <self>\nprofile selfy { /a r, }\n"},
		{"in-profile", "profile selfy {\n  include \"" + self + "\"\n  /a r,\n}\n"},
	} {
		if err := os.WriteFile(self, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, version := range corpusTargets {
			p := oracle.Require(t, version)
			accepted, stderr, err := p.ValidateFile(context.Background(), self, []string{dir})
			if err != nil {
				t.Fatal(err)
			}
			got, msg := armorerVerdict(nil, version, []string{dir, p.IncludeDir}, self)
			if got != accepted || got {
				t.Errorf("%s, target %s: armorer %s (%s), apparmor_parser %s %s (%s)", tc.name, version,
					verdict{accept: got}, msg, p.Version, verdict{accept: accepted}, stderr)
			}
		}
	}
}
