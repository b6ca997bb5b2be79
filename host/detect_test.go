package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	cases := []struct {
		fixture      string
		enabled, sfs bool
		locked       bool
		problems     []string // substrings, one per expected problem, in order
		features     []string
		abi          string
	}{
		{fixture: "full", enabled: true, sfs: true, features: []string{"capability", "file", "network", "policy"}, abi: "3.0"},
		{fixture: "noapparmor", problems: []string{"the kernel has no AppArmor (", "parameters/enabled does not exist)"}},
		{fixture: "disabled", problems: []string{`AppArmor is built in but disabled`}},
		{fixture: "nosecurityfs", enabled: true, problems: []string{"securityfs is not mounted"}},
		// A locked policy is no Problem: the kernel's rejection explains it.
		{fixture: "locked", enabled: true, sfs: true, locked: true, features: []string{"file"}, abi: "3.0"},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			h := New(fixture(t, tc.fixture), nil)
			s, err := h.Detect(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if s.Enabled != tc.enabled || s.SecurityFS != tc.sfs || s.PolicyLocked != tc.locked {
				t.Errorf("enabled=%v securityfs=%v locked=%v, want %v %v %v", s.Enabled, s.SecurityFS, s.PolicyLocked, tc.enabled, tc.sfs, tc.locked)
			}
			var got []string
			for _, p := range s.Problems {
				got = append(got, p.String())
				if p.Fix == "" {
					t.Errorf("problem %q has no fix", p.What)
				}
			}
			all := strings.Join(got, "\n")
			if len(tc.problems) == 0 && len(s.Problems) > 0 {
				t.Errorf("problems = %q, want none", all)
			}
			for _, want := range tc.problems {
				if !strings.Contains(all, want) {
					t.Errorf("problems = %q, want one containing %q", all, want)
				}
			}
			if !slices.Equal(s.Features, tc.features) {
				t.Errorf("features = %q, want %q", s.Features, tc.features)
			}
			if s.ABI != tc.abi {
				t.Errorf("ABI = %q, want %q", s.ABI, tc.abi)
			}
			if !strings.HasPrefix(s.ParserVersion, "3.") && !strings.HasPrefix(s.ParserVersion, "4.") {
				t.Errorf("parser version = %q, want the installed parser's", s.ParserVersion)
			}
		})
	}
}

func TestDetectFixes(t *testing.T) {
	h := New(fixture(t, "nosecurityfs"), nil)
	_, err := h.RequireSecurityFS(context.Background())
	var ue *UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want *UnavailableError", err)
	}
	if !strings.Contains(err.Error(), "mount -t securityfs securityfs "+h.Paths.SecurityFS) {
		t.Errorf("error %q does not say how to mount securityfs", err)
	}
}

func TestDetectMissingParser(t *testing.T) {
	p := fixture(t, "full")
	p.Parser = "/nonexistent/apparmor_parser"
	s, err := New(p, nil).Detect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Problems) != 1 || !strings.Contains(s.Problems[0].What, "apparmor_parser was not found") ||
		!strings.Contains(s.Problems[0].Fix, "apt-get install apparmor") {
		t.Errorf("problems = %+v, want the missing parser and how to install it", s.Problems)
	}
	if _, err := New(p, nil).RequireSecurityFS(context.Background()); err != nil {
		t.Errorf("RequireSecurityFS = %v; status needs no parser", err)
	}
	if _, err := New(p, nil).RequireKernel(context.Background()); err == nil {
		t.Errorf("RequireKernel succeeded without a parser")
	}
}

func TestABIFromFeatures(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "v6.1", "namespaces"), 0o755)
	os.WriteFile(filepath.Join(dir, "v6.1", "namespaces", "pivot_root"), nil, 0o644)
	os.MkdirAll(filepath.Join(dir, "v6.12", "namespaces"), 0o755)
	os.WriteFile(filepath.Join(dir, "v6.12", "namespaces", "userns_create"), nil, 0o644)
	for _, tc := range []struct {
		dir      string
		features []string
		want     string
	}{
		{"none", nil, ""},
		{"old", []string{"file", "network"}, "3.0"},
		// Debian 12's 6.1, as the e2e test saw it.
		{"v6.1", []string{"capability", "caps", "domain", "file", "mount", "namespaces", "network_v8", "policy", "ptrace", "query", "rlimit", "signal"}, "3.0"},
		{"v6.12", []string{"file", "namespaces"}, "4.0"},
		{"uring", []string{"file", "io_uring"}, "4.0"},
	} {
		if got := abiFromFeatures(filepath.Join(dir, tc.dir), tc.features); got != tc.want {
			t.Errorf("%s: abiFromFeatures(%q) = %q, want %q", tc.dir, tc.features, got, tc.want)
		}
	}
}
