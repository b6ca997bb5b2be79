package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
)

// TestCheckGolden runs testdata/check/*.txtar: in.yaml against the
// profiles myapp and worker; findings lists what check reports, one a line.
func TestCheckGolden(t *testing.T) {
	paths, _ := filepath.Glob("testdata/check/*.txtar")
	if len(paths) == 0 {
		t.Fatal("no check cases")
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			ar, err := txtar.ParseFile(p)
			if err != nil {
				t.Fatal(err)
			}
			c := patchCase{p, ar}
			in, _ := c.file("in.yaml")
			fs, err := CheckWorkloads("in.yaml", in, []string{"myapp", "worker"})
			var got strings.Builder
			if err != nil {
				got.WriteString("error: " + err.Error() + "\n")
			}
			for _, f := range fs {
				got.WriteString(f.String() + "\n")
			}
			if *update {
				ar.Files = []txtar.File{{Name: "in.yaml", Data: in}, {Name: "findings", Data: []byte(got.String())}}
				if err := os.WriteFile(p, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, _ := c.file("findings")
			if d := cmp.Diff(string(want), got.String()); d != "" {
				t.Errorf("findings (-want +got):\n%s", d)
			}
		})
	}
}

// TestCheckPatched: whatever patch writes, check accepts.
func TestCheckPatched(t *testing.T) {
	for _, c := range patchCases(t) {
		in, _ := c.file("in.yaml")
		res, err := Patch("in.yaml", in, c.options(t))
		if err != nil {
			continue
		}
		fs, err := CheckWorkloads("out.yaml", res.Out, []string{"myapp", "worker"})
		if err != nil || len(fs) > 0 {
			t.Errorf("%s: check of patch's output: %v %v", c.path, fs, err)
		}
	}
}
