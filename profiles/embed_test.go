package profiles

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every profile directory's NAME/NAME and every file under abstractions/
// is embedded, and nothing else is: no training log, no k8s/ file.
func TestEmbedsEveryProfile(t *testing.T) {
	want := map[string]bool{}
	dirs, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		if d.Name() == "abstractions" {
			filepath.WalkDir("abstractions", func(p string, e fs.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					want[filepath.ToSlash(p)] = true
				}
				return err
			})
			continue
		}
		if _, err := os.Stat(filepath.Join(d.Name(), d.Name())); err == nil {
			want[d.Name()+"/"+d.Name()] = true
		}
	}
	got := map[string]bool{}
	fs.WalkDir(FS, ".", func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			got[p] = true
		}
		return err
	})
	for p := range want {
		if !got[p] {
			t.Errorf("profiles/%s is not embedded: add it to the go:embed line of embed.go", p)
		}
	}
	for p := range got {
		if !want[p] {
			t.Errorf("%s is embedded but is no profile or abstraction of the library", p)
		}
		if strings.Contains(p, "testdata") || strings.Contains(p, "/k8s/") {
			t.Errorf("%s is embedded: only profile text belongs in the binary", p)
		}
	}
}
