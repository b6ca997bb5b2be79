package library

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/internal/oracle"
)

func TestList(t *testing.T) {
	all, err := List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range all {
		names = append(names, p.Name)
		if p.Attach == "" || !slices.Contains(p.Abstractions, "abstractions/base") {
			t.Errorf("%s: attach %q, abstractions %q: want an attachment and abstractions/base", p.Name, p.Attach, p.Abstractions)
		}
		if len(p.ProvenOn) == 0 {
			t.Errorf("%s: its header names no kernel it was proven on", p.Name)
		}
		for _, o := range p.Own {
			if _, err := abstractionText(o); err != nil {
				t.Errorf("%s: own abstraction %s: %v", p.Name, o, err)
			}
		}
	}
	for _, want := range []string{"nginx", "postgresql", "redis"} {
		if !slices.Contains(names, want) {
			t.Errorf("List() = %q, want %s among them", names, want)
		}
	}
	_, _, err = Lookup("nosuch")
	var nf *NotFoundError
	if !errors.As(err, &nf) || !slices.Equal(nf.Names, names) {
		t.Errorf("Lookup(nosuch) = %v, want a *NotFoundError listing %q", err, names)
	}
}

func TestProvenOn(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		{"# Proven by test/e2e TestLibrary on Debian 12's and Debian 13's kernels.\nabi <abi/3.0>,\n", "Debian 12,Debian 13"},
		{"# x\n# Proven by test/e2e TestLibrary\n# on Debian 12's\n# kernel: MODULE LOAD is denied.\n", "Debian 12"},
		{"# Learned on Debian 12's kernel; not proven yet.\n", ""},
		{"# Proven on Ubuntu 24.04's kernel.\n", "Ubuntu 24.04"},
		{"abi <abi/3.0>,\n# Proven on Debian 12's kernel.\n", ""}, // not the header
	} {
		if got := strings.Join(provenOn([]byte(c.header)), ","); got != c.want {
			t.Errorf("provenOn(%q) = %q, want %q", c.header, got, c.want)
		}
	}
}

// Every library profile installs, compiled by the real parser against
// Debian 12's abstractions (3.0) and Debian 13's (4.1); reinstalling
// changes nothing; a changed file, a mode change and a duplicate are
// refused; --force replaces, keeping the previous version.
func TestInstallEveryProfile(t *testing.T) {
	all, err := List()
	if err != nil {
		t.Fatal(err)
	}
	for _, version := range []string{"3.0", "4.1"} {
		t.Run(version, func(t *testing.T) {
			p := oracle.Require(t, version)
			for _, prof := range all {
				t.Run(prof.Name, func(t *testing.T) {
					h := offlineHost(t, p)
					dir := h.Paths.ProfileDir
					ctx := context.Background()
					res, err := Install(ctx, h, prof.Name, InstallOptions{})
					if err != nil {
						t.Fatal(err)
					}
					if res.Kernel != "" || res.Mode != host.Enforce || len(res.Files) != len(prof.Own)+2 {
						t.Errorf("result = %+v", res)
					}
					for _, f := range res.Files {
						if f.Action != Created {
							t.Errorf("%s: %s, want created", f.Path, f.Action)
						}
					}
					_, src, _ := Lookup(prof.Name)
					if got, _ := os.ReadFile(filepath.Join(dir, prof.Name)); string(got) != string(src) {
						t.Errorf("installed file differs from the library's")
					}
					res, err = Install(ctx, h, prof.Name, InstallOptions{})
					if err != nil || res.Files[len(res.Files)-2].Action != Unchanged || res.Files[len(res.Files)-1].Action != Kept {
						t.Fatalf("reinstall: %+v, %v", res, err)
					}
					var ce *ConflictError
					if _, err := Install(ctx, h, prof.Name, InstallOptions{Complain: true}); !errors.As(err, &ce) || !ce.ModeOnly {
						t.Errorf("complain over enforce: %v, want a mode-only *ConflictError", err)
					}
					res, err = Install(ctx, h, prof.Name, InstallOptions{Complain: true, Force: true})
					if err != nil || res.Mode != host.Complain || res.Files[len(res.Files)-2].Backup == "" {
						t.Errorf("--force --complain: %+v, %v", res, err)
					}
					os.WriteFile(filepath.Join(dir, "other"), []byte("profile "+prof.Name+"-old "+prof.Attach+" {\n}\n"), 0o644)
					var de *DuplicateError
					if _, err := Install(ctx, h, prof.Name, InstallOptions{Force: true}); !errors.As(err, &de) || de.Other != prof.Name+"-old" {
						t.Errorf("duplicate attachment: %v, want a *DuplicateError", err)
					}
				})
			}
		})
	}
}

// offlineHost is a Host on a fresh profile directory holding p's
// tunables, abstractions and abi, with NoLoad: the parser validates, no
// kernel is asked.
func offlineHost(t *testing.T, p *oracle.Parser) *host.Host {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "apparmor.d")
	for _, sub := range []string{"tunables", "abstractions", "abi"} {
		if err := os.CopyFS(filepath.Join(dir, sub), os.DirFS(filepath.Join(p.IncludeDir, sub))); err != nil {
			t.Fatal(err)
		}
	}
	h := host.New(host.Paths{
		ProfileDir: dir,
		StateDir:   filepath.Join(t.TempDir(), "state"),
		Parser:     p.Argv[0],
		ParserArgs: append(slices.Clone(p.Argv[1:]), "--config-file", os.DevNull),
	}, nil)
	h.NoLoad = true
	return h
}
