// Package library is armorer's profile collection for common services
// (the text is embedded by package profiles): what each profile is (its
// name, what it attaches to, the abstractions it includes, the kernels it
// was proven on), its text, and its installation into a profile directory
// next to the host's own abstractions.
package library

import (
	"bytes"
	"fmt"
	"go/token"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/profiles"
)

// Profile is one profile of the library.
type Profile struct {
	Name string `json:"name"`
	// Attach is what the profile attaches to, as written (a path glob,
	// or variables such as @{redis_server}); "" for a profile attached
	// only by name, as containers are.
	Attach string `json:"attach"`
	// Abstractions are the abstractions it includes ("abstractions/base"),
	// in order; Own are those of them the library brings (installed
	// with it), the others are the host's.
	Abstractions []string `json:"abstractions"`
	Own          []string `json:"own_abstractions"`
	// ProvenOn are the kernels the profile's header says it was proven on
	// in enforce mode ("Debian 12"); none when it says nothing.
	ProvenOn []string `json:"proven_on"`

	file string // its path in profiles.FS
}

// NotFoundError is a name that is no profile of the library.
type NotFoundError struct {
	Name  string
	Names []string // the library's profiles
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%q is no profile of the library; it has %s (armorer library list)", e.Name, strings.Join(e.Names, ", "))
}

// abstractionsDir is where the library's own abstractions live, in
// profiles.FS and in a profile directory alike.
const abstractionsDir = "abstractions"

// List returns the library's profiles, sorted by name.
func List() ([]Profile, error) {
	dirs, err := fs.ReadDir(profiles.FS, ".")
	if err != nil {
		return nil, err
	}
	var out []Profile
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == abstractionsDir {
			continue
		}
		p, err := load(d.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Lookup returns the profile name and its text.
func Lookup(name string) (Profile, []byte, error) {
	all, err := List()
	if err != nil {
		return Profile{}, nil, err
	}
	for _, p := range all {
		if p.Name == name {
			src, err := fs.ReadFile(profiles.FS, p.file)
			return p, src, err
		}
	}
	var names []string
	for _, p := range all {
		names = append(names, p.Name)
	}
	return Profile{}, nil, &NotFoundError{Name: name, Names: names}
}

// load reads the library's profile dir/dir.
func load(dir string) (Profile, error) {
	file := dir + "/" + dir
	src, err := fs.ReadFile(profiles.FS, file)
	if err != nil {
		return Profile{}, err
	}
	f, err := policy.ParseFile(token.NewFileSet(), "profiles/"+file, src, 0)
	if err != nil {
		return Profile{}, fmt.Errorf("the library's %s does not parse (an armorer bug): %w", file, err)
	}
	p := Profile{file: file, ProvenOn: provenOn(src), Abstractions: []string{}, Own: []string{}}
	for _, r := range f.Rules {
		if prof, ok := r.(*policy.Profile); ok && prof.Name != nil {
			p.Name = prof.Name.Value()
			if prof.Attach != nil {
				p.Attach = prof.Attach.Value()
			}
			break
		}
	}
	if p.Name != dir {
		return Profile{}, fmt.Errorf("the library's %s defines profile %q, want %q (an armorer bug)", file, p.Name, dir)
	}
	p.Abstractions = abstractionIncludes(f)
	own, err := ownAbstractions(p.Abstractions)
	if err != nil {
		return Profile{}, fmt.Errorf("the library's %s: %w", file, err)
	}
	p.Own = own
	return p, nil
}

// abstractionIncludes lists the abstractions f includes, anywhere, in
// order and without repeats.
func abstractionIncludes(f *policy.File) []string {
	out := []string{}
	for n := range policy.Preorder(f) {
		if inc, ok := n.(*policy.Include); ok && inc.Path != nil && inc.Path.Magic() {
			if p := inc.Path.Value(); strings.HasPrefix(p, abstractionsDir+"/") && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// ownAbstractions returns the library's abstractions among includes and
// those they include in turn, each once, dependencies after their user.
func ownAbstractions(includes []string) ([]string, error) {
	out := []string{}
	queue := slices.Clone(includes)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if slices.Contains(out, name) {
			continue
		}
		src, err := fs.ReadFile(profiles.FS, name)
		if err != nil {
			continue // the host's
		}
		out = append(out, name)
		f, err := policy.ParseFile(token.NewFileSet(), "profiles/"+name, src, 0)
		if err != nil {
			return nil, fmt.Errorf("%s does not parse: %w", name, err)
		}
		queue = append(queue, abstractionIncludes(f)...)
	}
	return out, nil
}

// abstractionText is the text of one of the library's abstractions.
func abstractionText(name string) ([]byte, error) {
	return fs.ReadFile(profiles.FS, path.Clean(name))
}

var (
	provenSentence = regexp.MustCompile(`(?s)\bProven\b(.*?)\bkernels?\b`)
	kernelName     = regexp.MustCompile(`\b(Debian|Ubuntu) [0-9][0-9.]*[0-9]\b|\b(Debian|Ubuntu) [0-9]\b`)
)

// provenOn reads the kernels from the header comment's "Proven by ... on
// Debian 12's and Debian 13's kernels" (the header is the file's leading
// comment lines; the test that proves the profile is named there too).
func provenOn(src []byte) []string {
	var header []string
	for line := range bytes.Lines(src) {
		t := strings.TrimSpace(string(line))
		if !strings.HasPrefix(t, "#") {
			break
		}
		header = append(header, strings.TrimSpace(strings.TrimPrefix(t, "#")))
	}
	out := []string{}
	m := provenSentence.FindStringSubmatch(strings.Join(header, " "))
	if m == nil {
		return out
	}
	for _, k := range kernelName.FindAllString(m[1], -1) {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}
