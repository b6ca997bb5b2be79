package kube

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
)

// patchCase is one testdata/patch/*.txtar: the flags (args), the input
// (in.yaml) and what patch gives: out.yaml and the warnings (stderr), or
// the error.
type patchCase struct {
	path string
	ar   *txtar.Archive
}

func (c patchCase) file(name string) ([]byte, bool) {
	for _, f := range c.ar.Files {
		if f.Name == name {
			return f.Data, true
		}
	}
	return nil, false
}

func (c patchCase) options(t testing.TB) PatchOptions {
	args, _ := c.file("args")
	var o PatchOptions
	fs := flag.NewFlagSet("patch", flag.ContinueOnError)
	fs.StringVar(&o.Container, "container", "", "")
	fs.StringVar(&o.Profile, "profile", "", "")
	fs.BoolVar(&o.PodLevel, "pod-level", false, "")
	fs.BoolVar(&o.LegacyAnnotation, "legacy-annotation", false, "")
	if err := fs.Parse(strings.Fields(string(args))); err != nil {
		t.Fatalf("%s: args: %v", c.path, err)
	}
	return o
}

func patchCases(t testing.TB) []patchCase {
	paths, err := filepath.Glob("testdata/patch/*.txtar")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no patch cases: %v", err)
	}
	var cs []patchCase
	for _, p := range paths {
		ar, err := txtar.ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, patchCase{p, ar})
	}
	return cs
}

func TestPatchGolden(t *testing.T) {
	for _, c := range patchCases(t) {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			in, _ := c.file("in.yaml")
			res, err := Patch("in.yaml", in, c.options(t))
			got := map[string]string{}
			if err != nil {
				got["error"] = err.Error() + "\n"
			} else {
				got["out.yaml"] = string(res.Out)
				if len(res.Warnings) > 0 {
					got["stderr"] = strings.Join(res.Warnings, "\n") + "\n"
				}
			}
			if *update {
				var files []txtar.File
				for _, f := range c.ar.Files {
					if f.Name == "args" || f.Name == "in.yaml" {
						files = append(files, f)
					}
				}
				for _, n := range []string{"out.yaml", "stderr", "error"} {
					if v, ok := got[n]; ok {
						files = append(files, txtar.File{Name: n, Data: []byte(v)})
					}
				}
				c.ar.Files = files
				if err := os.WriteFile(c.path, txtar.Format(c.ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, n := range []string{"out.yaml", "stderr", "error"} {
				want, _ := c.file(n)
				if d := cmp.Diff(string(want), got[n]); d != "" {
					t.Errorf("%s (-want +got):\n%s", n, d)
				}
			}
			if err != nil {
				return
			}
			// Patching the output again changes nothing, byte for byte.
			again, err := Patch("out.yaml", res.Out, c.options(t))
			if err != nil || !bytes.Equal(again.Out, res.Out) {
				t.Errorf("patching the output again: %v\n%s", err, cmp.Diff(string(res.Out), string(again.Out)))
			}
			// Every comment of the input is still there.
			for _, line := range strings.Split(string(in), "\n") {
				if i := strings.Index(line, "# "); i >= 0 && !strings.Contains(line[:i], `"`) {
					if comment := strings.TrimSpace(line[i:]); !strings.Contains(string(res.Out), comment) {
						t.Errorf("comment %q lost", comment)
					}
				}
			}
		})
	}
}
