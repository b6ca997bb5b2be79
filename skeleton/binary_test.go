package skeleton

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/internal/testenv"
)

// need skips when a real tool is missing, except in CI.
func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		testenv.Missing(t, "%s not installed: %v", tool, err)
	}
	return p
}

// lddLibraries is the oracle: the libraries ldd (the real loader) maps,
// symlinks resolved, the loader itself apart.
func lddLibraries(t *testing.T, bin string) (libs []string, loader string) {
	out, err := exec.Command(need(t, "ldd"), bin).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", bin, err)
	}
	re := regexp.MustCompile(`(?m)^\s*(?:\S+ => )?(/\S+) \(0x`)
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		p, err := filepath.EvalSymlinks(m[1])
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(filepath.Base(p), "ld-linux") {
			loader = p
			continue
		}
		libs = append(libs, p)
	}
	slices.Sort(libs)
	return libs, loader
}

func TestInspectSystemBinaries(t *testing.T) {
	for _, bin := range []string{"/bin/ls", "/usr/bin/ssh", "/usr/sbin/apparmor_parser", "/usr/bin/python3"} {
		if _, err := os.Stat(bin); err != nil {
			continue
		}
		t.Run(bin, func(t *testing.T) {
			x, err := Inspect(bin, InspectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want, loader := lddLibraries(t, bin)
			if !slices.Equal(x.Libraries, want) {
				t.Errorf("libraries:\n got %q\nwant %q", x.Libraries, want)
			}
			if x.Loader != loader {
				t.Errorf("loader = %q, want %q", x.Loader, loader)
			}
			real, _ := filepath.EvalSymlinks(bin)
			if x.Path != real || x.Script || len(x.Missing) > 0 {
				t.Errorf("got %+v", x)
			}
		})
	}
}

// A program built here with a private library found through
// DT_RUNPATH=$ORIGIN/../lib, as applications under /opt ship them.
func TestInspectRunpathOrigin(t *testing.T) {
	cc := need(t, "gcc")
	dir := t.TempDir()
	for _, d := range []string{"bin", "lib"} {
		os.MkdirAll(filepath.Join(dir, "opt/app", d), 0o755)
	}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lib := filepath.Join(dir, "opt/app/lib/libgreet.so.1.2.3")
	run := func(args ...string) {
		if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
	}
	run("-shared", "-fPIC", "-Wl,-soname,libgreet.so.1", "-o", lib, write("greet.c", `int greet(void){return 42;}`))
	os.Symlink("libgreet.so.1.2.3", filepath.Join(dir, "opt/app/lib/libgreet.so.1"))
	os.Symlink("libgreet.so.1", filepath.Join(dir, "opt/app/lib/libgreet.so"))
	bin := filepath.Join(dir, "opt/app/bin/app")
	run("-o", bin, write("main.c", `int greet(void); int main(void){return greet()==42?0:1;}`),
		"-L"+filepath.Join(dir, "opt/app/lib"), "-lgreet", "-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags")
	if err := exec.Command(bin).Run(); err != nil {
		t.Fatalf("built program does not run: %v", err)
	}
	x, err := Inspect(bin, InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := lddLibraries(t, bin)
	if !slices.Equal(x.Libraries, want) {
		t.Errorf("libraries:\n got %q\nwant %q", x.Libraries, want)
	}
	if !slices.Contains(x.Libraries, lib) {
		t.Errorf("private library %s not found: %q", lib, x.Libraries)
	}
}

func TestInspectScripts(t *testing.T) {
	dir := t.TempDir()
	bindir := filepath.Join(dir, "bin")
	os.MkdirAll(bindir, 0o755)
	sh, _ := filepath.EvalSymlinks("/bin/sh")
	// A program found on PATH through a symlink, as Debian's python3.
	os.Symlink(sh, filepath.Join(bindir, "myinterp"))
	env, _ := filepath.EvalSymlinks("/usr/bin/env")
	tests := []struct {
		name, shebang string
		want          []string
		err           string
	}{
		{"direct", "#!/bin/sh -e", []string{sh}, ""},
		{"env", "#!/usr/bin/env myinterp", []string{env, sh}, ""},
		{"env -S", "#!/usr/bin/env -S myinterp -u", []string{env, sh}, ""},
		{"env assignment", "#!/usr/bin/env LC_ALL=C myinterp", []string{env, sh}, ""},
		{"env missing", "#!/usr/bin/env no-such-interp", nil, "not found in PATH"},
		{"missing interpreter", "#!/no/such/sh", nil, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := filepath.Join(dir, "script")
			os.WriteFile(script, []byte(tt.shebang+"\necho hi\n"), 0o755)
			x, err := Inspect(script, InspectOptions{PATH: bindir + ":/usr/bin"})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !x.Script || !slices.Equal(x.Interpreters, tt.want) {
				t.Errorf("interpreters = %q, want %q", x.Interpreters, tt.want)
			}
			if x.Loader == "" || len(x.Libraries) == 0 {
				t.Errorf("the interpreter's loader and libraries are missing: %+v", x)
			}
		})
	}
}

func TestInspectNotExecutable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "data")
	os.WriteFile(p, []byte("plain text"), 0o644)
	if _, err := Inspect(p, InspectOptions{}); err == nil || !strings.Contains(err.Error(), "not an ELF") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseLdCacheTruncated(t *testing.T) {
	data, err := os.ReadFile("/etc/ld.so.cache")
	if err != nil {
		t.Skip("no ld.so.cache")
	}
	full := parseLdCache(data)
	if len(full["libc.so.6"]) == 0 {
		t.Fatalf("libc.so.6 not in ld.so.cache: %d entries", len(full))
	}
	for _, n := range []int{0, 10, 47, 48, 100, len(data) / 2} {
		parseLdCache(data[:n]) // must not panic
	}
	parseLdCache(bytes.Repeat([]byte{0xff}, 100))
}

func FuzzParseLdCache(f *testing.F) {
	if data, err := os.ReadFile("/etc/ld.so.cache"); err == nil {
		f.Add(data[:min(len(data), 4096)])
	}
	f.Add([]byte(ldCacheMagic + "\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for k, v := range parseLdCache(data) {
			if k == "" || len(v) == 0 {
				t.Fatalf("empty entry %q: %q", k, v)
			}
		}
	})
}

// A script whose #! program is itself a script: a wrapper with one
// literal exec is followed to the real interpreter (its own interpreter
// included); a version manager's shim, or a wrapper whose target is
// computed, is an error that says so.
func TestInspectShims(t *testing.T) {
	dir := t.TempDir()
	sh, _ := filepath.EvalSymlinks("/bin/sh")
	env, _ := filepath.EvalSymlinks("/usr/bin/env")
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	wrapper := write("wrap/bin/interp", "#!/bin/sh\n# a wrapper\nexport X=1\nexec -a interp \"/bin/sh\" \"$@\"\n")
	write("pyenv/.pyenv/shims/interp", "#!/usr/bin/env bash\nexec \"/home/u/.pyenv/libexec/pyenv\" exec \"$program\" \"$@\"\n")
	write("computed/bin/interp", "#!/bin/sh\nexec \"$HOME/bin/real\" \"$@\"\n")
	write("twice/bin/interp", "#!/bin/sh\nif [ -x /bin/a ]; then exec /bin/a; fi\nexec /bin/sh\n")
	script := write("script", "#!/usr/bin/env interp\necho hi\n")
	tests := []struct {
		path string
		want []string
		err  string
	}{
		{"wrap/bin", []string{env, wrapper, sh, sh}, ""},
		{"pyenv/.pyenv/shims", nil, "is a version manager's shim: it chooses the interpreter each time it runs, so no profile can name it in advance; write the real interpreter in the #! line (the path pyenv which interp prints)"},
		{"computed/bin", nil, "is a script, and armorer cannot tell which program it runs"},
		{"twice/bin", nil, "cannot tell which program it runs"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			x, err := Inspect(script, InspectOptions{PATH: filepath.Join(dir, tt.path)})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(x.Interpreters, tt.want) {
				t.Errorf("interpreters = %q, want %q", x.Interpreters, tt.want)
			}
		})
	}
}
