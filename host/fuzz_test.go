package host

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// FuzzParseProfiles: the securityfs profile list parser never panics, and
// every profile it returns round-trips through "NAME (MODE)".
func FuzzParseProfiles(f *testing.F) {
	f.Add([]byte("myapp (enforce)\nmyapp//child (complain)\n"))
	f.Add([]byte("a profile (with) space (kill)\n\n"))
	f.Add([]byte("garbage\n"))
	if ar, err := txtar.ParseFile(filepath.Join("testdata", "full.txtar")); err == nil {
		for _, file := range ar.Files {
			f.Add(file.Data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := parseProfiles("profiles", data)
		if err != nil {
			return
		}
		for _, p := range ps {
			line := p.Name + " (" + string(p.Mode) + ")"
			if p.Mode == Unconfined && p.Name == "unconfined" {
				continue
			}
			name, mode, err := ParseLabel(line)
			if err != nil || name != p.Name || mode != p.Mode {
				t.Errorf("%q → %q %q → %q %q %v", data, p.Name, p.Mode, name, mode, err)
			}
		}
	})
}

// FuzzSetModeFlags: never panics; when it succeeds the result parses,
// every profile has the mode (checked inside SetModeFlags), and setting
// the same mode again changes nothing.
func FuzzSetModeFlags(f *testing.F) {
	for _, dir := range []string{filepath.Join("testdata", "profiles")} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
				f.Add(b, true)
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "mode", "*.txtar"))
	for _, file := range files {
		if ar, err := txtar.ParseFile(file); err == nil {
			for _, af := range ar.Files {
				f.Add(af.Data, false)
			}
		}
	}
	f.Add([]byte("profile a (complain) {\n}\n"), true)
	f.Fuzz(func(t *testing.T, src []byte, complain bool) {
		mode := Enforce
		if complain {
			mode = Complain
		}
		orig := string(src)
		out, err := SetModeFlags("fuzz", src, mode)
		if string(src) != orig {
			t.Fatalf("input modified")
		}
		if err != nil {
			return
		}
		again, err := SetModeFlags("fuzz", out, mode)
		if err != nil || string(again) != string(out) {
			t.Errorf("not idempotent: %v\n%q\n%q", err, out, again)
		}
	})
}
