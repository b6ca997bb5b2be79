package clidoc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/armorer-dev/armorer/internal/cli"
)

// Every verb gets its page, named as man(1) looks it up (armorer-learn.1),
// and the output depends only on the version and date given.
func TestWrite(t *testing.T) {
	date := time.Date(2026, 12, 3, 5, 0, 0, 0, time.UTC)
	gen := func() string {
		dir := t.TempDir()
		if err := Write(cli.NewRootCmd(cli.NewFactory()), dir, Options{Version: "v1.2.3", Date: date}); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	dir := gen()
	root := cli.NewRootCmd(cli.NewFactory())
	var want []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c != root {
			return
		}
		want = append(want, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	if len(want) < 15 {
		t.Fatalf("only %d commands in the tree: %v", len(want), want)
	}
	for _, name := range want {
		b, err := os.ReadFile(filepath.Join(dir, ManDir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		page := string(b)
		base := strings.TrimSuffix(name, ".1")
		if !strings.Contains(page, `.TH "`+strings.ToUpper(base)+`" "1" "Dec 2026" "armorer v1.2.3" "armorer manual"`) {
			t.Errorf("%s: unexpected .TH header:\n%.300s", name, page)
		}
		if !strings.Contains(page, ".SH NAME\n"+base+" - ") {
			t.Errorf("%s: NAME section is not \"%s - …\" (whatis and lintian read it)", name, base)
		}
		if lexgrog, err := exec.LookPath("lexgrog"); err == nil {
			out, err := exec.Command(lexgrog, filepath.Join(dir, ManDir, name)).CombinedOutput()
			if err != nil || !strings.Contains(string(out), `"`+base+" - ") {
				t.Errorf("lexgrog %s (what whatis and lintian read): %v\n%s", name, err, out)
			}
		}
	}
	for _, s := range []struct{ path, marker string }{
		{Bash, "__armorer_get_completion_results"}, {Zsh, "#compdef armorer"}, {Fish, "complete -c armorer"},
	} {
		b, err := os.ReadFile(filepath.Join(dir, s.path))
		if err != nil || !strings.Contains(string(b), s.marker) {
			t.Errorf("%s: missing or lacks %q (%v)", s.path, s.marker, err)
		}
	}

	// Reproducible: a second run writes the same bytes.
	again := gen()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		a, _ := os.ReadFile(p)
		b, _ := os.ReadFile(filepath.Join(again, rel))
		if string(a) != string(b) {
			t.Errorf("%s differs between two runs", rel)
		}
		return nil
	})
}

// The pages render without groff errors (lintian's manpage-has-errors-from-man).
func TestPagesRender(t *testing.T) {
	if _, err := exec.LookPath("man"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI: man (man-db) is required")
		}
		t.Skip("man not installed")
	}
	dir := t.TempDir()
	if err := Write(cli.NewRootCmd(cli.NewFactory()), dir, Options{Version: "v1.2.3", Date: time.Now()}); err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, ManDir, "*.1"))
	for _, p := range pages {
		cmd := exec.Command("man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", p)
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "MANWIDTH=80", "MANROFFSEQ=")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		out := stderr.String()
		// groff's "cannot adjust line" is about justification at this width, not an error.
		var errs []string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "warning") && !strings.Contains(l, "cannot adjust line") {
				errs = append(errs, l)
			}
		}
		if err != nil || len(errs) > 0 {
			t.Errorf("%s: man: %v\n%s", filepath.Base(p), err, strings.Join(errs, "\n"))
		}
	}
}
