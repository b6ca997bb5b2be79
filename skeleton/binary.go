// Package skeleton writes the first profile for a program: the program
// itself, its ELF interpreter and shared libraries, a script's
// interpreters; for a systemd unit, the program ExecStart= runs and the
// files it names.
package skeleton

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Executable is what a first profile needs to know about a program: the
// file the kernel attaches the profile to, what it maps at start and
// which interpreter runs it.
type Executable struct {
	// Path is the program's real path (symlinks resolved), which is what
	// AppArmor attaches to.
	Path string
	// Script: Path starts with "#!"; Interpreters then lists the shebang's
	// program (and, for "#!/usr/bin/env NAME", NAME found on the PATH).
	Script       bool
	Interpreters []string
	// Loader is the ELF interpreter (PT_INTERP) of Path or of the
	// script's interpreter, resolved.
	Loader string
	// Libraries are the shared libraries loaded at start (DT_NEEDED,
	// transitively), resolved, sorted.
	Libraries []string
	// Missing are DT_NEEDED names that were not found.
	Missing []string
}

// InspectOptions locate libraries and programs. The zero value uses the
// running system's /etc/ld.so.cache, standard directories and $PATH.
type InspectOptions struct {
	// Root is prepended to every absolute path looked at (a sysroot, for
	// tests); paths in the result are without it.
	Root string
	// LdCache is the ld.so.cache to read ("/etc/ld.so.cache" if empty).
	LdCache string
	// PATH is the search path for "#!/usr/bin/env NAME" (the process's
	// $PATH if empty).
	PATH string
}

// maxLibraries bounds the transitive library walk.
const maxLibraries = 4096

// Inspect reads the program at path.
func Inspect(path string, opts InspectOptions) (*Executable, error) {
	if !filepath.IsAbs(path) {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		path = abs
	}
	in := &inspector{opts: opts, seen: map[string]bool{}}
	real, err := in.resolve(path)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", path, err)
	}
	x := &Executable{Path: real}
	head, err := in.readHead(real)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", path, err)
	}
	elfPath := real
	if bytes.HasPrefix(head, []byte("#!")) {
		x.Script = true
		interp, err := in.shebang(head)
		if err == nil {
			interp, err = in.throughShims(interp)
		}
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", path, err)
		}
		x.Interpreters = interp
		elfPath = interp[len(interp)-1]
	}
	if err := in.walk(x, elfPath); err != nil {
		return nil, fmt.Errorf("inspect %s: %w", path, err)
	}
	slices.Sort(x.Libraries)
	x.Libraries = slices.Compact(x.Libraries)
	slices.Sort(x.Missing)
	x.Missing = slices.Compact(x.Missing)
	return x, nil
}

type inspector struct {
	opts  InspectOptions
	cache map[string][]string // soname → candidate paths, from ld.so.cache
	seen  map[string]bool
}

func (in *inspector) host(p string) string { return filepath.Join(in.opts.Root, p) }

// resolve follows symlinks inside Root and returns the path without Root.
func (in *inspector) resolve(p string) (string, error) {
	for range 40 {
		fi, err := os.Lstat(in.host(p))
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			if fi.IsDir() {
				return "", fmt.Errorf("%s is a directory", p)
			}
			// Resolve symlinked directories on the way too.
			dir, err := in.resolveDir(filepath.Dir(p))
			if err != nil {
				return "", err
			}
			return filepath.Join(dir, filepath.Base(p)), nil
		}
		t, err := in.readlink(p)
		if err != nil {
			return "", err
		}
		p = t
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", p)
}

// readlink returns the target of the symlink p (a path inside Root),
// made absolute against p's directory and cleaned.
func (in *inspector) readlink(p string) (string, error) {
	t, err := os.Readlink(in.host(p))
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(t) {
		t = filepath.Join(filepath.Dir(p), t)
	}
	return filepath.Clean(t), nil
}

func (in *inspector) resolveDir(dir string) (string, error) {
	if in.opts.Root == "" {
		return filepath.EvalSymlinks(dir)
	}
	if dir == "/" {
		return dir, nil
	}
	parent, err := in.resolveDir(filepath.Dir(dir))
	if err != nil {
		return "", err
	}
	p := filepath.Join(parent, filepath.Base(dir))
	for range 40 {
		fi, err := os.Lstat(in.host(p))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return p, nil
		}
		t, err := in.readlink(p)
		if err != nil {
			return "", err
		}
		p = t
	}
	return p, nil
}

func (in *inspector) readHead(p string) ([]byte, error) {
	f, err := os.Open(in.host(p))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 256)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:n], nil
}

// shebang returns the interpreter chain of a script: the #! program and,
// for env, the program env runs.
func (in *inspector) shebang(head []byte) ([]string, error) {
	line, _, _ := bytes.Cut(head[2:], []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) == 0 {
		return nil, errors.New("empty #! line")
	}
	prog, err := in.resolve(fields[0])
	if err != nil {
		return nil, fmt.Errorf("#! interpreter %s: %w", fields[0], err)
	}
	chain := []string{prog}
	if filepath.Base(fields[0]) != "env" {
		return chain, nil
	}
	args := fields[1:]
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		if args[0] == "-S" || args[0] == "--split-string" {
			args = args[1:]
			continue
		}
		if s, ok := strings.CutPrefix(args[0], "-S"); ok && s != "" {
			args[0] = s
			continue
		}
		args = args[1:]
	}
	for len(args) > 0 && strings.Contains(args[0], "=") {
		args = args[1:] // env NAME=value assignments
	}
	if len(args) == 0 {
		return nil, errors.New("#!/usr/bin/env names no program")
	}
	name := args[0]
	if strings.Contains(name, "/") {
		p, err := in.resolve(name)
		if err != nil {
			return nil, fmt.Errorf("#! env program %s: %w", name, err)
		}
		return append(chain, p), nil
	}
	search := in.opts.PATH
	if search == "" {
		search = os.Getenv("PATH")
	}
	for _, dir := range filepath.SplitList(search) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		cand := filepath.Join(dir, name)
		fi, err := os.Stat(in.host(cand))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			continue
		}
		p, err := in.resolve(cand)
		if err != nil {
			continue
		}
		return append(chain, p), nil
	}
	return nil, fmt.Errorf("#!/usr/bin/env %s: %s not found in PATH %q", name, name, search)
}

// maxShims bounds the chain of scripts that run scripts.
const maxShims = 8

// versionManagers are the directories of tools whose shims choose the
// interpreter when they run (a .python-version file, an environment
// variable): no file says which one a script will get.
var versionManagers = []struct{ dir, which string }{
	{"/.pyenv/", "pyenv which"}, {"/.rbenv/", "rbenv which"}, {"/.nodenv/", "nodenv which"},
	{"/.plenv/", "plenv which"}, {"/.phpenv/", "phpenv which"}, {"/.asdf/", "asdf which"},
	{"/mise/", "mise which"}, {"/shims/", "the version manager's which command"},
}

// throughShims follows an interpreter chain while its last program is a
// script itself (a wrapper such as "exec /opt/python3.12/bin/python3
// "$@""): its own interpreters run it, and it runs the program it execs.
// A script whose target cannot be read from it (a version manager's shim,
// a wrapper that computes the path) is an error saying so: the profile
// would name the wrong interpreter.
func (in *inspector) throughShims(chain []string) ([]string, error) {
	for range maxShims {
		last := chain[len(chain)-1]
		text, err := in.readScript(last)
		if err != nil {
			return nil, fmt.Errorf("#! interpreter %s: %w", last, err)
		}
		if text == nil {
			return chain, nil // a program, not a script
		}
		for _, vm := range versionManagers {
			if strings.Contains(last, vm.dir) {
				return nil, fmt.Errorf("#! interpreter %s is a version manager's shim: it chooses the interpreter each time it runs, so no profile can name it in advance; write the real interpreter in the #! line (the path %s %s prints)", last, vm.which, filepath.Base(last))
			}
		}
		target, ok := execTarget(text)
		if !ok {
			return nil, fmt.Errorf("#! interpreter %s is a script, and armorer cannot tell which program it runs (no single exec /path/to/program line); write the real interpreter in the #! line", last)
		}
		own, err := in.shebang(text)
		if err != nil {
			return nil, fmt.Errorf("#! interpreter %s: %w", last, err)
		}
		real, err := in.resolve(target)
		if err != nil {
			return nil, fmt.Errorf("#! interpreter %s runs %s: %w", last, target, err)
		}
		chain = append(append(chain, own...), real)
	}
	return nil, fmt.Errorf("#! interpreter %s: more than %d scripts that run scripts", chain[len(chain)-1], maxShims)
}

// readScript returns the text of p when it is a script ("#!"; at most
// 64 KiB), nil for anything else.
func (in *inspector) readScript(p string) ([]byte, error) {
	head, err := in.readHead(p)
	if err != nil || !bytes.HasPrefix(head, []byte("#!")) {
		return nil, err
	}
	f, err := os.Open(in.host(p))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 64<<10))
}

// execTarget finds the one program a wrapper script execs: a single
// "exec [-a NAME] /absolute/path ..." (anywhere on a line: "then exec
// ...;" counts) whose path is literal, quoted or not, with no variables.
// Two execs, or one of a computed path, are not known.
func execTarget(text []byte) (string, bool) {
	target := ""
	for line := range strings.Lines(string(text)) {
		f := strings.Fields(strings.NewReplacer(";", " ; ", "&&", " && ", "||", " || ").Replace(line))
		for i := 0; i < len(f); i++ {
			if strings.HasPrefix(f[i], "#") {
				break // a comment
			}
			if f[i] != "exec" {
				continue
			}
			rest := f[i+1:]
			if len(rest) >= 2 && rest[0] == "-a" {
				rest = rest[2:]
			}
			if len(rest) == 0 || target != "" {
				return "", false // exec with no program, or a second exec
			}
			p := strings.Trim(rest[0], `"'`)
			if !filepath.IsAbs(p) || strings.ContainsAny(p, "$`*?[") {
				return "", false
			}
			target = p
		}
	}
	return target, target != ""
}

// walk adds the loader and the transitive DT_NEEDED libraries of the ELF
// file at p.
func (in *inspector) walk(x *Executable, p string) error {
	f, err := elf.Open(in.host(p))
	if err != nil {
		return fmt.Errorf("%s: not an ELF executable or script: %w", p, err)
	}
	machine, class := f.Machine, f.Class
	if interp := interpreter(f); interp != "" {
		if r, err := in.resolve(interp); err == nil {
			x.Loader = r
		} else {
			x.Missing = append(x.Missing, interp)
		}
	}
	f.Close()
	queue := []string{p}
	in.seen[p] = true
	for len(queue) > 0 && len(x.Libraries) < maxLibraries {
		cur := queue[0]
		queue = queue[1:]
		needed, search, err := in.dynamic(cur)
		if err != nil {
			return err
		}
		for _, name := range needed {
			lib, ok := in.find(name, search, machine, class)
			if !ok {
				x.Missing = append(x.Missing, name)
				continue
			}
			if in.seen[lib] {
				continue
			}
			in.seen[lib] = true
			if lib != x.Loader {
				x.Libraries = append(x.Libraries, lib)
			}
			queue = append(queue, lib)
		}
	}
	return nil
}

func interpreter(f *elf.File) string {
	for _, prog := range f.Progs {
		if prog.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(prog.Open(), 4096))
		if err != nil {
			return ""
		}
		return string(bytes.TrimRight(b, "\x00"))
	}
	return ""
}

// dynamic returns an ELF file's DT_NEEDED names and the directories its
// DT_RUNPATH (or DT_RPATH) names, with $ORIGIN expanded.
func (in *inspector) dynamic(p string) (needed, search []string, err error) {
	f, err := elf.Open(in.host(p))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", p, err)
	}
	defer f.Close()
	needed, err = f.DynString(elf.DT_NEEDED)
	if err != nil {
		return nil, nil, nil // static: no dynamic section
	}
	paths, _ := f.DynString(elf.DT_RUNPATH)
	if len(paths) == 0 {
		paths, _ = f.DynString(elf.DT_RPATH)
	}
	origin := filepath.Dir(p)
	for _, ps := range paths {
		for _, d := range strings.Split(ps, ":") {
			d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
			if filepath.IsAbs(d) {
				search = append(search, filepath.Clean(d))
			}
		}
	}
	return needed, search, nil
}

// find locates a library by its DT_NEEDED name: a path as is; else the
// file's run path, ld.so.cache, then the standard directories; the first
// candidate of the same ELF class and machine wins.
func (in *inspector) find(name string, search []string, m elf.Machine, c elf.Class) (string, bool) {
	var cands []string
	if strings.Contains(name, "/") {
		cands = []string{name}
	} else {
		for _, d := range search {
			cands = append(cands, filepath.Join(d, name))
		}
		cands = append(cands, in.ldCache()[name]...)
		for _, d := range standardLibDirs(m, c) {
			cands = append(cands, filepath.Join(d, name))
		}
	}
	for _, cand := range cands {
		f, err := elf.Open(in.host(cand))
		if err != nil {
			continue
		}
		ok := f.Machine == m && f.Class == c
		f.Close()
		if !ok {
			continue
		}
		if r, err := in.resolve(cand); err == nil {
			return r, true
		}
	}
	return "", false
}

func standardLibDirs(m elf.Machine, c elf.Class) []string {
	var triple string
	switch m {
	case elf.EM_X86_64:
		triple = "x86_64-linux-gnu"
	case elf.EM_386:
		triple = "i386-linux-gnu"
	case elf.EM_AARCH64:
		triple = "aarch64-linux-gnu"
	case elf.EM_ARM:
		triple = "arm-linux-gnueabihf"
	case elf.EM_RISCV:
		triple = "riscv64-linux-gnu"
	case elf.EM_PPC64:
		triple = "powerpc64le-linux-gnu"
	case elf.EM_S390:
		triple = "s390x-linux-gnu"
	}
	var dirs []string
	if triple != "" {
		dirs = append(dirs, "/lib/"+triple, "/usr/lib/"+triple)
	}
	if c == elf.ELFCLASS64 {
		dirs = append(dirs, "/lib64", "/usr/lib64")
	}
	return append(dirs, "/lib", "/usr/lib", "/usr/local/lib")
}

// ldCache reads ld.so.cache (glibc's "glibc-ld.so.cache1.1" format, alone
// or after the old "ld.so-1.7.0" table) into soname → paths.
func (in *inspector) ldCache() map[string][]string {
	if in.cache != nil {
		return in.cache
	}
	in.cache = map[string][]string{}
	p := in.opts.LdCache
	if p == "" {
		p = "/etc/ld.so.cache"
	}
	data, err := os.ReadFile(in.host(p))
	if err != nil {
		return in.cache
	}
	for name, paths := range parseLdCache(data) {
		in.cache[name] = paths
	}
	return in.cache
}

const ldCacheMagic = "glibc-ld.so.cache1.1"

// parseLdCache parses the new ld.so.cache format. Malformed input gives a
// partial or empty map, never a panic.
func parseLdCache(data []byte) map[string][]string {
	out := map[string][]string{}
	start := bytes.Index(data, []byte(ldCacheMagic))
	if start < 0 {
		return out
	}
	const headerLen, entryLen = 48, 24
	hdr := data[start:]
	if len(hdr) < headerLen {
		return out
	}
	nlibs := binary.LittleEndian.Uint32(hdr[20:24])
	for i := uint64(0); i < uint64(nlibs); i++ {
		off := uint64(headerLen) + i*entryLen
		if off+entryLen > uint64(len(hdr)) {
			break
		}
		e := hdr[off : off+entryLen]
		key := str(hdr, binary.LittleEndian.Uint32(e[4:8]))
		val := str(hdr, binary.LittleEndian.Uint32(e[8:12]))
		if key != "" && filepath.IsAbs(val) {
			out[key] = append(out[key], val)
		}
	}
	return out
}

// str reads a NUL-terminated string at off (offsets in the new format are
// relative to its header).
func str(b []byte, off uint32) string {
	if uint64(off) >= uint64(len(b)) {
		return ""
	}
	s := b[off:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		return string(s[:i])
	}
	return ""
}
