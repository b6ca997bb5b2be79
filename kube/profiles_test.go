package kube

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/policy"
)

func TestReadProfilesRefuses(t *testing.T) {
	big := "profile big {\n" + strings.Repeat("  /srv/a/very/long/path/that/fills/the/configmap/** r,\n", 20000) + "}\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string // in the problem list
	}{
		{"syntax error", map[string]string{"bad": "profile bad {\n  /etc/x rz,\n}\n"}, "bad:2:"},
		{"runtime name", map[string]string{"runc": "profile runc { }\n"}, `profile "runc": belongs to a container runtime`},
		{"two profiles in one file", map[string]string{"two": "profile a { }\nprofile b { }\n"}, "defines 2 named top-level profiles"},
		{"path-named profile", map[string]string{"usr.bin.x": "/usr/bin/x { }\n"}, "is not a ConfigMap key"},
		{"duplicate", map[string]string{"a1": "profile a { }\n", "a2": "profile a { }\n"}, `profile "a" is also defined in`},
		{"more than 1 MiB", map[string]string{"big": big}, "one ConfigMap holds at most 1048576"},
		{"empty", map[string]string{"README": "not a profile"}, "no profile files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, c := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := ReadProfiles(dir, nil, policy.Version{})
			var pe *ProfileError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *ProfileError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestReadProfilesKeys(t *testing.T) {
	ps := testProfiles(t)
	if len(ps) != 2 || ps[0].Name != "myapp" || ps[1].Name != "worker" {
		t.Fatalf("got %+v", ps)
	}
	if _, err := ReadProfiles(filepath.Join(t.TempDir(), "missing"), nil, policy.Version{}); err == nil {
		t.Error("a missing directory is no error")
	}
}

// TestCheckProfileName: what the manifests and the agent both accept as
// a profile name that is a ConfigMap key.
func TestCheckProfileName(t *testing.T) {
	for name, want := range map[string]string{
		"myapp":                  "",
		"my-app_2.v1":            "",
		strings.Repeat("a", 253): "",
		"":                       "not a ConfigMap key",
		strings.Repeat("a", 254): "not a ConfigMap key",
		".hidden":                "skipped by AppArmor's loader",
		"..data":                 "skipped by AppArmor's loader",
		"/usr/bin/x":             "not a ConfigMap key",
		"a b":                    "not a ConfigMap key",
		"ünicode":                "not a ConfigMap key",
	} {
		err := CheckProfileName(name)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v, want accepted", name, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: %v, want %q", name, err, want)
		}
	}
}
