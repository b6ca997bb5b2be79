package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/internal/oracle"
	"github.com/armorer-dev/armorer/internal/parsernoise"
)

// hostParser runs an oracle parser (3.0.8 from the host, 4.1 unpacked from
// Debian 13) through host.Parser, with its own include tree and an empty
// configuration, as Paths.Parser and Paths.ParserArgs would.
func hostParser(t *testing.T, version string) (*Parser, *oracle.Parser) {
	t.Helper()
	o := oracle.Require(t, version)
	conf := filepath.Join(t.TempDir(), "parser.conf")
	os.WriteFile(conf, nil, 0o644)
	args := append(slices.Clone(o.Argv[1:]), "--config-file", conf, "-I", o.IncludeDir, "--base", o.IncludeDir)
	return &Parser{Program: o.Argv[0], Args: args}, o
}

// Both parser generations: validation, names, version, and the mode
// editor's output compiled by each, with that version's ABI and syntax.
func TestParserVersions(t *testing.T) {
	for _, version := range []string{"3.0", "4.1"} {
		t.Run(version, func(t *testing.T) {
			p, o := hostParser(t, version)
			ctx := context.Background()
			v, err := p.Version(ctx)
			if err != nil || !strings.HasPrefix(v, version) {
				t.Errorf("Version = %q, %v; want %s.x", v, err, version)
			}
			extra := ""
			if version == "4.1" {
				extra = "  userns,\n  all,\n" // AppArmor 4 rules
			}
			src := "abi <" + o.ABI + ">,\ninclude <tunables/global>\n\nprofile myapp /opt/myapp/bin/myapp flags=(attach_disconnected) {\n  include <abstractions/base>\n" + extra + "  /opt/myapp/** r,\n\n  profile child {\n  }\n}\n"
			dir := t.TempDir()
			for _, mode := range []Mode{Complain, Enforce} {
				out, err := SetModeFlags("myapp", []byte(src), mode)
				if err != nil {
					t.Fatal(err)
				}
				f := filepath.Join(dir, "myapp-"+string(mode))
				os.WriteFile(f, out, 0o644)
				if err := p.Validate(ctx, f); err != nil {
					t.Errorf("%s: %v\n%s", mode, err, out)
				}
				names, err := p.Names(ctx, f)
				if err != nil || !slices.Equal(names, []string{"myapp", "myapp//child"}) {
					t.Errorf("%s: names = %q, %v", mode, names, err)
				}
			}
			bad := filepath.Join(dir, "bad")
			os.WriteFile(bad, []byte("abi <"+o.ABI+">,\nprofile bad {\n  /etc/passwd rz,\n}\n"), 0o644)
			err = p.Validate(ctx, bad)
			var ie *InvalidProfileError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), "line 3") || strings.Contains(err.Error(), parsernoise.Line) {
				t.Errorf("bad profile: %v", err)
			}
		})
	}
}
