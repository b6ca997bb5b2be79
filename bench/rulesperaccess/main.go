// Command rulesperaccess learns a log into a profile directory (in memory:
// nothing is written) and prints how many rules came out per distinct
// access: issue 14's "a reviewer reads a learned profile in one sitting".
// A distinct access is one (profile, path) for files, one (profile, rule
// for exactly it) for the other classes.
//
//	rulesperaccess [-dir DIR] LOG...
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/armorer-dev/armorer/auditlog/source"
	"github.com/armorer-dev/armorer/learn"
	"github.com/armorer-dev/armorer/policy"
)

func main() {
	dir := flag.String("dir", "", "profile directory (default: an empty one, with the bundled example's abstractions)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: rulesperaccess [-dir DIR] LOG...")
		os.Exit(2)
	}
	bundled, _ := filepath.Abs("examples/myapp/apparmor.d")
	opts := learn.SessionOptions{Dir: *dir, Include: []string{*dir, bundled}}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "rulesperaccess")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(tmp)
		opts.Dir, opts.Include = tmp, []string{tmp, bundled}
	}
	s, err := learn.OpenSession(opts)
	if err != nil {
		fail(err)
	}
	src, err := source.Open(context.Background(), flag.Args(), source.Options{})
	if err != nil {
		fail(err)
	}
	defer src.Close()
	distinct := map[string]bool{}
	var m learn.Mapper
	var a learn.Access
	events := func(yield func(*source.Event) bool) {
		for ev := range src.Events() {
			if m.Map(ev.Event, ev.Source, ev.Line(), &a) {
				key := a.Profile + "\x00" + a.Path
				if a.Class != learn.ClassFile {
					key = a.Profile + "\x00" + a.Class.String() + "\x00" + text(learn.AccessRule(&a))
				}
				distinct[key] = true
			}
			if !yield(ev) {
				return
			}
		}
	}
	res, err := s.Learn(events)
	if err != nil {
		fail(err)
	}
	rules := 0
	for _, p := range res.Profiles {
		rules += len(p.Rules)
	}
	fmt.Printf("%d profiles, %d distinct accesses, %d rules, %.3f rules per distinct access\n",
		len(res.Profiles), len(distinct), rules, float64(rules)/float64(max(len(distinct), 1)))
}

func text(r policy.Rule) string {
	var b bytes.Buffer
	if err := policy.Format(&b, nil, &policy.File{Rules: []policy.Rule{r}}); err != nil {
		return fmt.Sprint(r)
	}
	return b.String()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rulesperaccess:", err)
	os.Exit(1)
}
