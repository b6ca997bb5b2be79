// Package fakeparser stands in for the kernel side of apparmor_parser in
// tests on machines without AppArmor. Everything that does not touch the
// kernel (-Q validation, -N names, --version) runs the real parser, so
// profiles are still compiled by the real thing. A load (-r, -a) first
// compiles the file with the real parser, then either fails the way a
// kernel rejection does (FAKE_PARSER_REJECT=1) or records the profiles in
// the fixture securityfs given by --subdomainfs; -R removes them.
//
// It is test code only: the mode it records is read from the flags=(...)
// text, which is good enough for a fixture and nothing else.
package fakeparser

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Env variables that steer the fake.
const (
	EnvReal   = "FAKE_PARSER_REAL"   // the real parser; default /usr/sbin/apparmor_parser
	EnvReject = "FAKE_PARSER_REJECT" // "1": every load and remove is rejected
	EnvLog    = "FAKE_PARSER_LOG"    // a file each call's argv is appended to
	// EnvPartial names a marker file: while it does not exist, a load
	// creates it, records the profiles and then fails, as a kernel that
	// accepted part of a set would; later loads succeed.
	EnvPartial = "FAKE_PARSER_PARTIAL"
	// EnvRejectFile names a profile file by its base name: loads of that
	// file are rejected, others succeed.
	EnvRejectFile = "FAKE_PARSER_REJECT_FILE"
)

// Main runs the fake with os.Args and exits.
func Main() {
	os.Exit(run(os.Args[1:]))
}

func real() string {
	if r := os.Getenv(EnvReal); r != "" {
		return r
	}
	return "/usr/sbin/apparmor_parser"
}

func run(args []string) int {
	if log := os.Getenv(EnvLog); log != "" {
		if f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, strings.Join(args, " "))
			f.Close()
		}
	}
	var (
		aafs, file   string
		load, remove bool
		passthrough  []string
	)
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--subdomainfs" || a == "-f":
			i++
			if i < len(args) {
				aafs = args[i]
			}
			continue
		case a == "-r" || a == "--replace" || a == "-a" || a == "--add":
			load = true
			continue
		case a == "-R" || a == "--remove":
			remove = true
			continue
		case !strings.HasPrefix(a, "-"):
			file = a
		}
		passthrough = append(passthrough, a)
	}
	if !load && !remove {
		return realRun(passthrough...)
	}
	if file == "" {
		fmt.Fprintln(os.Stderr, "fake apparmor_parser: no file")
		return 1
	}
	if load {
		if rc := realRun(append([]string{"-Q"}, passthrough...)...); rc != 0 {
			return rc
		}
	}
	names, err := names(passthrough, file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if os.Getenv(EnvReject) == "1" || load && os.Getenv(EnvRejectFile) == filepath.Base(file) {
		verb := "replace"
		if remove {
			verb = "remove"
		}
		fmt.Fprintf(os.Stderr, "apparmor_parser: Unable to %s \"%s\".  Permission denied; attempted to load a profile while confined?\n", verb, names[0])
		return 1
	}
	if aafs == "" {
		fmt.Fprintln(os.Stderr, "fake apparmor_parser: need --subdomainfs pointing at a fixture securityfs")
		return 1
	}
	profilesFile := filepath.Join(aafs, "profiles")
	loaded, err := readLoaded(profilesFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if remove {
		for _, n := range names {
			if _, ok := loaded[n]; !ok {
				fmt.Fprintf(os.Stderr, "apparmor_parser: Unable to remove \"%s\".  Profile doesn't exist\n", n)
				return 1
			}
			delete(loaded, n)
		}
		removePolicyDirs(aafs, names)
	} else {
		src, _ := os.ReadFile(file)
		mode := "enforce"
		if complainFlags.Match(src) {
			mode = "complain"
		}
		for _, n := range names {
			loaded[n] = mode
		}
		writePolicyDirs(aafs, src, names, mode)
	}
	if err := writeLoaded(profilesFile, loaded); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if marker := os.Getenv(EnvPartial); load && marker != "" {
		if _, err := os.Stat(marker); err != nil {
			os.WriteFile(marker, nil, 0o644)
			fmt.Fprintf(os.Stderr, "apparmor_parser: Unable to replace \"%s\".  Invalid argument\n", names[len(names)-1])
			return 1
		}
	}
	return 0
}

var complainFlags = regexp.MustCompile(`(?m)^[^#\n]*flags\s*=\s*\([^)]*complain`)

func realRun(args ...string) int {
	cmd := exec.Command(real(), args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// names lists file's profiles, with the call's other arguments (its
// include path: -I, --base, --config-file).
func names(args []string, file string) ([]string, error) {
	args = slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == file })
	out, err := exec.Command(real(), append(args, "-N", "-K", file)...).Output()
	if err != nil {
		return nil, fmt.Errorf("fake apparmor_parser: names of %s: %v", file, err)
	}
	return strings.Fields(string(out)), nil
}

func readLoaded(name string) (map[string]string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		i := strings.LastIndex(line, " (")
		if i > 0 {
			m[line[:i]] = strings.TrimSuffix(line[i+2:], ")")
		}
	}
	return m, nil
}

func writeLoaded(name string, m map[string]string) error {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%s (%s)\n", k, m[k])
	}
	return os.WriteFile(name, []byte(b.String()), 0o644)
}

// header matches "profile NAME ATTACH" and "/path" profile headers.
var header = regexp.MustCompile(`(?m)^\s*(?:profile\s+(\S+)(?:\s+(/\S+))?|(/\S+))\s+(?:flags=\([^)]*\)\s*)?\{`)

// writePolicyDirs mimics the kernel's policy/profiles/NAME.N/{name,mode,
// attach}: attach holds the attachment, or the name when there is none.
func writePolicyDirs(aafs string, src []byte, names []string, mode string) {
	attach := map[string]string{}
	for _, m := range header.FindAllSubmatch(src, -1) {
		switch {
		case len(m[3]) > 0:
			attach[string(m[3])] = string(m[3])
		case len(m[2]) > 0:
			attach[string(m[1])] = string(m[2])
		}
	}
	for _, n := range names {
		dir := filepath.Join(aafs, "policy", "profiles", strings.NewReplacer("/", ".", "//", ".").Replace(strings.TrimPrefix(n, "/"))+".1")
		os.MkdirAll(dir, 0o755)
		a := attach[n]
		if a == "" {
			a = n
		}
		os.WriteFile(filepath.Join(dir, "name"), []byte(n+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "mode"), []byte(mode+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "attach"), []byte(a+"\n"), 0o644)
		// Not a kernel file: the text loaded, for tests to tell versions apart.
		os.WriteFile(filepath.Join(dir, "source"), src, 0o644)
	}
}

func removePolicyDirs(aafs string, names []string) {
	for _, n := range names {
		os.RemoveAll(filepath.Join(aafs, "policy", "profiles", strings.NewReplacer("/", ".", "//", ".").Replace(strings.TrimPrefix(n, "/"))+".1"))
	}
}
