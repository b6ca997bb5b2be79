// Package clidoc writes what is generated from armorer's cobra tree for
// installation: one man page per verb (armorer.1, armorer-learn.1, …) and
// the bash, zsh and fish completion scripts. `make docs` runs it through
// scripts/gendoc; the .deb and `make install` ship its output.
package clidoc

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Layout of the output directory, relative to it.
const (
	ManDir = "man/man1"
	Bash   = "completions/armorer.bash"
	Zsh    = "completions/_armorer"
	Fish   = "completions/armorer.fish"
)

// Options say which build the pages describe.
type Options struct {
	Version string    // shown in the pages' footer: "armorer v1.2.3"
	Date    time.Time // the pages' date; a release passes the commit's, so builds are reproducible
}

// Write generates the man pages and completion scripts of root under dir.
func Write(root *cobra.Command, dir string, o Options) error {
	root.DisableAutoGenTag = true // the footer would otherwise carry a generation time
	man := filepath.Join(dir, ManDir)
	if err := os.MkdirAll(man, 0o755); err != nil {
		return err
	}
	date := o.Date.UTC()
	hdr := &doc.GenManHeader{Section: "1", Source: "armorer " + o.Version, Manual: "armorer manual", Date: &date}
	if err := doc.GenManTree(root, hdr, man); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "completions"), 0o755); err != nil {
		return err
	}
	for _, s := range []struct {
		path string
		gen  func(*os.File) error
	}{
		{Bash, func(f *os.File) error { return root.GenBashCompletionV2(f, true) }},
		{Zsh, func(f *os.File) error { return root.GenZshCompletion(f) }},
		{Fish, func(f *os.File) error { return root.GenFishCompletion(f, true) }},
	} {
		f, err := os.Create(filepath.Join(dir, s.path))
		if err != nil {
			return err
		}
		err = s.gen(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s.path, err)
		}
	}
	return nil
}
