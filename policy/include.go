package policy

import (
	"errors"
	"fmt"
	"go/scanner"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultIncludeDir is apparmor_parser's default search path and base
// directory.
const DefaultIncludeDir = "/etc/apparmor.d"

// Loader reads policy files and the files their include directives name,
// the way apparmor_parser does:
//
//   - include <x> and #include <x> search SearchPath in order (the -I
//     directories), then Base, as apparmor_parser does;
//   - include "x" opens x as is when absolute, else relative to Base
//     (apparmor_parser's --base, which is also its working directory);
//   - a directory includes every file in it (not subdirectories), except
//     dot-files and the names apparmor_parser skips (see SkippedName);
//   - include if exists ignores a missing target.
//
// One Loader has one token.FileSet, so every position of a load prints as
// abstractions/base:12:3. Files are parsed once and cached by path, so a
// Loader can check a whole directory of profiles cheaply. A Loader is not
// safe for concurrent use.
type Loader struct {
	Fset       *token.FileSet
	SearchPath []string // directories for <x>, searched before Base
	Base       string   // directory for relative "x", searched last for <x>; empty means DefaultIncludeDir

	files    map[string]*loaded
	foreign  map[string]bool     // included files outside the search path: their text is never quoted
	resolved map[string]resolved // by directive kind and name: a Loader looks each up once
	incs     map[*File][]*Include
}

type resolved struct {
	paths []string
	err   error // an *IncludeError without position
}

type loaded struct {
	file *File
	err  error
	src  []byte // kept for checks that look at the exact spelling
}

// NewLoader returns a Loader with a fresh FileSet and the given -I
// directories (DefaultIncludeDir is searched after them).
func NewLoader(searchPath ...string) *Loader {
	return &Loader{Fset: token.NewFileSet(), SearchPath: searchPath}
}

func (l *Loader) searchPath() []string {
	if slices.Contains(l.SearchPath, l.base()) {
		return l.SearchPath
	}
	return append(slices.Clip(l.SearchPath), l.base())
}

func (l *Loader) base() string {
	if l.Base == "" {
		return DefaultIncludeDir
	}
	return l.Base
}

// Load parses the file at path; if src is not nil it is used instead of the
// file's contents. The result is cached: loading the same path again
// returns the same *File. Syntax errors are returned with the partial File.
func (l *Loader) Load(path string, src []byte) (*File, error) {
	if l.files == nil {
		l.files = map[string]*loaded{}
	}
	if src == nil {
		if c, ok := l.files[path]; ok {
			return c.file, c.err
		}
		var err error
		src, err = readPolicyFile(path)
		if err != nil {
			l.files[path] = &loaded{err: err}
			return nil, err
		}
	}
	if l.Fset == nil {
		l.Fset = token.NewFileSet()
	}
	f, err := ParseFile(l.Fset, path, src, ParseComments)
	if err != nil && l.foreign[path] {
		err = redacted(err)
	}
	l.files[path] = &loaded{file: f, err: err, src: src}
	return f, err
}

// redacted turns syntax errors in a file outside the include search path
// into their positions and a reason: the messages quote the offending
// text, and that file may be anything (include "/etc/shadow" must not
// print a password hash).
func redacted(err error) error {
	var list scanner.ErrorList
	if !errors.As(err, &list) {
		return err
	}
	out := make(scanner.ErrorList, len(list))
	for i, e := range list {
		out[i] = &scanner.Error{Pos: e.Pos, Msg: "not valid policy (the file is outside the include search path; armorer does not show its content)"}
	}
	return out
}

// maxFileSize bounds what Load reads: policy files are small, and an
// include of /proc/kcore or a device must not hang or exhaust memory.
const maxFileSize = 16 << 20

// readPolicyFile reads a regular file of at most maxFileSize bytes.
func readPolicyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() == 0 {
		// Empty, or a /proc file that would block (kmsg): never read it.
		return []byte{}, nil
	}
	if fi.Size() > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d MiB; not a policy file", path, maxFileSize>>20)
	}
	// One read of the size Stat reported (files may shrink or grow meanwhile).
	buf := make([]byte, fi.Size()+1)
	n, err := io.ReadFull(f, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return buf[:n], nil
	}
	if err != nil {
		return nil, err
	}
	rest, err := io.ReadAll(io.LimitReader(f, maxFileSize))
	return append(buf, rest...), err
}

// Source returns the text of a file this Loader parsed (nil for one it
// did not): the exact bytes its *File and checks came from.
func (l *Loader) Source(path string) []byte {
	if c, ok := l.files[path]; ok {
		return c.src
	}
	return nil
}

// IncludeError reports an include directive that cannot be satisfied.
type IncludeError struct {
	Pos  token.Pos
	Path string // the directive's target as written, e.g. <abstractions/base>
	Msg  string
	Err  error // fs.ErrNotExist for a missing target
}

func (e *IncludeError) Error() string { return e.Msg }
func (e *IncludeError) Unwrap() error { return e.Err }

// Resolve returns the files an include directive reads, in the order
// apparmor_parser would read them (a directory's entries sorted by name).
// A missing target of "include if exists" gives no files and no error.
// Results are cached: a Loader sees the file system as it was at the first
// lookup of each name.
func (l *Loader) Resolve(inc *Include) ([]string, error) {
	if inc.Path == nil {
		return nil, &IncludeError{Pos: inc.Pos(), Msg: "include without a file name: write include <abstractions/NAME> or include \"/path\""}
	}
	key := inc.Path.Raw
	if inc.IfExists {
		key = "?" + key
	}
	if l.resolved == nil {
		l.resolved = map[string]resolved{}
	}
	r, ok := l.resolved[key]
	if !ok {
		r.paths, r.err = l.resolve(inc)
		l.resolved[key] = r
	}
	if r.err != nil {
		e := *r.err.(*IncludeError)
		e.Pos = inc.Path.Pos()
		return nil, &e
	}
	return r.paths, nil
}

func (l *Loader) resolve(inc *Include) ([]string, error) {
	name := inc.Path.Value()
	fail := func(err error, format string, args ...any) ([]string, error) {
		return nil, &IncludeError{Pos: inc.Path.Pos(), Path: inc.Path.Raw, Err: err, Msg: fmt.Sprintf(format, args...)}
	}
	if name == "" {
		return fail(nil, "include %s names no file", inc.Path.Raw)
	}
	if strings.Contains(name, "@{") {
		return fail(nil, "include %s: variables are not expanded in include paths", inc.Path.Raw)
	}
	var candidates []string
	switch {
	case inc.Path.Magic() && leaves(name):
		return fail(nil, "include %s leaves the include search path: not read; to include a file outside it on purpose, name it explicitly: include \"/absolute/path\"", inc.Path.Raw)
	case inc.Path.Magic():
		for _, dir := range l.searchPath() {
			candidates = append(candidates, dir+"/"+name)
		}
	case filepath.IsAbs(name):
		candidates = []string{name}
	default:
		candidates = []string{l.base() + "/" + name}
	}
	for _, c := range candidates {
		fi, err := os.Stat(c)
		if err != nil {
			continue
		}
		if fi.Mode().IsRegular() {
			l.markForeign(c)
			return []string{c}, nil
		}
		if !fi.IsDir() {
			return fail(nil, "include %s: %s is not a regular file or directory", inc.Path.Raw, c)
		}
		files, err := dirFiles(c)
		if err != nil {
			return fail(err, "include %s: %v", inc.Path.Raw, err)
		}
		for _, f := range files {
			l.markForeign(f)
		}
		return files, nil
	}
	if inc.IfExists {
		return nil, nil
	}
	where := strings.Join(candidates, ", ")
	hint := "check the name, add its directory with -I, or write include if exists"
	return fail(fs.ErrNotExist, "include %s: no such file (looked for %s); %s", inc.Path.Raw, where, hint)
}

// leaves reports whether a <name> include climbs out of the directory it
// is searched in (<../../etc/shadow>). A leading '/' does not: the parser
// reads <NAME> as DIR/NAME, so </etc/shadow> is DIR//etc/shadow and </> the
// directory itself.
func leaves(name string) bool {
	c := filepath.Clean(strings.TrimLeft(name, "/"))
	return c == ".." || strings.HasPrefix(c, "../")
}

// markForeign records an included file whose real path lies outside every
// directory of the search path (an explicit include "/x", or a link out).
func (l *Loader) markForeign(file string) {
	real, err := filepath.EvalSymlinks(file)
	if err != nil {
		real = file
	}
	real, _ = filepath.Abs(real)
	for _, dir := range l.searchPath() {
		d, err := filepath.EvalSymlinks(dir)
		if err != nil {
			d = dir
		}
		d, _ = filepath.Abs(d)
		if rel, err := filepath.Rel(d, real); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return
		}
	}
	if l.foreign == nil {
		l.foreign = map[string]bool{}
	}
	l.foreign[file] = true
}

// dirFiles lists the regular files of dir that apparmor_parser reads.
func dirFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if SkippedName(e.Name()) {
			continue
		}
		p := dir + "/" + e.Name()
		fi, err := os.Stat(p) // follow symlinks, as the parser does
		if err != nil || !fi.Mode().IsRegular() {
			continue // the parser ignores subdirectories
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

// skippedSuffixes are the file name endings AppArmor ignores in included
// directories: package manager leftovers, patch and editor backups.
var skippedSuffixes = []string{
	".dpkg-new", ".dpkg-old", ".dpkg-dist", ".dpkg-bak", ".dpkg-remove",
	".pacsave", ".pacnew", ".rpmnew", ".rpmsave", ".orig", ".rej", "~",
}

// SkippedName reports whether apparmor_parser skips a file of this name in
// an included directory (and when loading a directory of profiles):
// dot-files, README, and the suffixes in skippedSuffixes.
func SkippedName(name string) bool {
	if strings.HasPrefix(name, ".") || name == "README" {
		return true
	}
	for _, s := range skippedSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// Closure returns f and every file it includes, directly or through other
// includes, each once, in the order first reached: what apparmor_parser
// reads to compile f. Missing includes (other than include if exists) are
// returned as a joined error after the files that could be read.
func (l *Loader) Closure(f *File) ([]*File, error) {
	seen := map[*File]bool{}
	var (
		out  []*File
		errs []error
		walk func(*File)
	)
	walk = func(f *File) {
		if seen[f] {
			return
		}
		seen[f] = true
		out = append(out, f)
		for _, inc := range l.includesOf(f) {
			files, err := l.Included(inc)
			if err != nil {
				errs = append(errs, err)
			}
			for _, g := range files {
				walk(g)
			}
		}
	}
	walk(f)
	return out, errors.Join(errs...)
}

// includesOf returns the include directives of f, wherever they are.
func (l *Loader) includesOf(f *File) []*Include {
	if incs, ok := l.incs[f]; ok {
		return incs
	}
	incs := []*Include{}
	for n := range Preorder(f) {
		if inc, ok := n.(*Include); ok {
			incs = append(incs, inc)
		}
	}
	if l.incs == nil {
		l.incs = map[*File][]*Include{}
	}
	l.incs[f] = incs
	return incs
}

// Included resolves an include directive and parses its files.
func (l *Loader) Included(inc *Include) ([]*File, error) {
	paths, err := l.Resolve(inc)
	if err != nil {
		return nil, err
	}
	var (
		files []*File
		errs  []error
	)
	for _, p := range paths {
		f, err := l.Load(p, nil)
		if f != nil {
			files = append(files, f)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return files, errors.Join(errs...)
}
