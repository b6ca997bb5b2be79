package policy_test

import (
	"bytes"
	"errors"
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/armorer-dev/armorer/policy"
)

// addSeeds seeds a fuzz target with every policy text in testdata (format
// inputs, error cases, the differential corpus) and some Debian profiles.
func addSeeds(f *testing.F) {
	for _, pat := range []string{"testdata/format/*.input", "testdata/format/*.golden", "testdata/errors/*.profile"} {
		files, _ := filepath.Glob(pat)
		for _, fn := range files {
			if b, err := os.ReadFile(fn); err == nil {
				f.Add(b)
			}
		}
	}
	archives, _ := filepath.Glob("testdata/corpus/*.txtar")
	for _, fn := range archives {
		if ar, err := txtar.ParseFile(fn); err == nil {
			for _, af := range ar.Files {
				f.Add(af.Data)
			}
		}
	}
	for _, fn := range []string{
		"/etc/apparmor.d/usr.sbin.dnsmasq", "/etc/apparmor.d/php-fpm", "/etc/apparmor.d/usr.sbin.smbd",
		"/etc/apparmor.d/tunables/global", "/etc/apparmor.d/tunables/home", "/etc/apparmor.d/abstractions/base",
		"/etc/apparmor.d/abstractions/dbus-session-strict", "/usr/share/apparmor/extra-profiles/usr.sbin.sshd",
	} {
		if b, err := os.ReadFile(fn); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("profile a {\n  ^b { owner { /x r, } }\n  if not defined $x { } else { }\n}\n"))
}

// FuzzParse: ParseFile never panics, and every node's span lies inside the
// file with Pos <= End; every error has a position in the file.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		fset := token.NewFileSet()
		file, err := policy.ParseFile(fset, "fuzz", src, policy.ParseComments)
		if file == nil {
			t.Fatal("no tree")
		}
		tf := fset.File(file.Pos())
		if tf == nil {
			t.Fatal("file position not in the FileSet")
		}
		lo, hi := token.Pos(tf.Base()), token.Pos(tf.Base()+tf.Size())
		for n := range policy.Preorder(file) {
			p, e := n.Pos(), n.End()
			if !p.IsValid() {
				continue
			}
			if !e.IsValid() || p > e || p < lo || e > hi {
				t.Fatalf("%T spans %d..%d, outside the file %d..%d or reversed", n, p, e, lo, hi)
			}
			// Recorded separators are where the source has them.
			at := func(pos token.Pos, s string) bool {
				off := int(pos - lo)
				return off >= 0 && off+len(s) <= len(src) && string(src[off:off+len(s)]) == s
			}
			if r, ok := n.(policy.Rule); ok {
				if c := r.RuleMeta().Comma; c.IsValid() && (!at(c, ",") || c+1 != r.End()) {
					t.Fatalf("%T: Comma %d is not the ',' that ends it", n, c)
				}
			}
			for _, a := range arrows(n) {
				if a.IsValid() && !at(a, "->") {
					t.Fatalf("%T: ArrowPos %d is not a '->'", n, a)
				}
			}
		}
		var list scanner.ErrorList
		if err != nil && !errors.As(err, &list) {
			t.Fatalf("error is not an ErrorList: %v", err)
		}
		for _, e := range list {
			if e.Pos.Filename != "fuzz" || e.Pos.Line < 1 || e.Pos.Column < 1 {
				t.Fatalf("error without position: %v", e)
			}
		}
	})
}

// FuzzFormat: for input that parses, the printed text parses again to the
// same tree (positions aside) and prints the same bytes (idempotence), and
// the input is not modified.
func FuzzFormat(f *testing.F) {
	addSeeds(f)
	// Newlines inside quoted names (issue 13 item 16): escaped, as \n,
	// and in nested blocks whose indentation must not enter the name.
	f.Add([]byte("profile \"a\\\nb\" {\n  profile \"c\\nd\" {\n    \"/tmp/x\\\n y\" r,\n  }\n}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		orig := bytes.Clone(src)
		fset := token.NewFileSet()
		file, err := policy.ParseFile(fset, "fuzz", src, policy.ParseComments)
		if err != nil {
			return
		}
		out := policy.FormatFile(fset, file)
		if !bytes.Equal(src, orig) {
			t.Fatal("ParseFile or Format modified the input")
		}
		fset2 := token.NewFileSet()
		file2, err := policy.ParseFile(fset2, "formatted", out, policy.ParseComments)
		if err != nil {
			t.Fatalf("formatted text does not parse: %v\ninput:\n%s\nformatted:\n%s", err, src, out)
		}
		if d := cmp.Diff(file.Rules, file2.Rules, astOpts); d != "" {
			t.Fatalf("formatting changed the tree (-input +formatted):\n%s\ninput:\n%q", d, src)
		}
		if again := policy.FormatFile(fset2, file2); !bytes.Equal(out, again) {
			t.Fatalf("format is not idempotent\ninput:\n%q\nfirst:\n%q\nsecond:\n%q", src, out, again)
		}
	})
}

// arrows returns the recorded "->" positions of a node.
func arrows(n policy.Node) []token.Pos {
	switch n := n.(type) {
	case *policy.Alias:
		return []token.Pos{n.ArrowPos}
	case *policy.FileRule:
		return []token.Pos{n.ArrowPos}
	case *policy.LinkRule:
		return []token.Pos{n.ArrowPos}
	case *policy.MountRule:
		return []token.Pos{n.ArrowPos}
	case *policy.PivotRootRule:
		return []token.Pos{n.ArrowPos}
	case *policy.ChangeProfileRule:
		return []token.Pos{n.ArrowPos}
	}
	return nil
}
