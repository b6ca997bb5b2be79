package vmtest

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/internal/testenv"
)

func TestParseConsole(t *testing.T) {
	console := "SeaBIOS\x1b[2J" + markInit + " 6.1.0\n" +
		markBegin + "one\nline 1\nline 2\n" + markEnd + "one rc=0\n" +
		"[    2.1] kernel noise between steps\n" +
		markBegin + "two words\n" + markEnd + "two words rc=124\n" +
		markBegin + "unfinished\npartial\n" +
		markDone + "rc=3\n"
	res := parseConsole(console)
	if !res.Completed || res.ScenarioRC != 3 {
		t.Errorf("Completed=%v ScenarioRC=%d, want true 3", res.Completed, res.ScenarioRC)
	}
	want := []Step{{Name: "one", Output: "line 1\nline 2\n", RC: 0}, {Name: "two words", Output: "", RC: 124}}
	if len(res.Steps) != len(want) {
		t.Fatalf("steps = %+v, want %+v", res.Steps, want)
	}
	for i := range want {
		if res.Steps[i] != want[i] {
			t.Errorf("step %d = %+v, want %+v", i, res.Steps[i], want[i])
		}
	}
	if _, ok := res.Step("unfinished"); ok {
		t.Error("a step without its end marker must not be reported")
	}
	if got := res.Output("one"); got != "line 1\nline 2\n" {
		t.Errorf("Output(one) = %q", got)
	}
}

func TestParseConsoleNotCompleted(t *testing.T) {
	res := parseConsole(markBegin + "a\n" + markEnd + "a rc=0\nKernel panic\n")
	if res.Completed || res.ScenarioRC != -1 {
		t.Errorf("Completed=%v ScenarioRC=%d for a console without the done marker", res.Completed, res.ScenarioRC)
	}
}

func TestKernelDependency(t *testing.T) {
	out := []byte("linux-image-amd64\n  Depends: linux-image-6.12.117+deb13-amd64\n")
	got, err := kernelDependency(out)
	if err != nil || got != "linux-image-6.12.117+deb13-amd64" {
		t.Errorf("kernelDependency = %q, %v", got, err)
	}
	if _, err := kernelDependency([]byte("linux-image-amd64\n  Depends: initramfs-tools\n")); err == nil {
		t.Error("no versioned dependency: want an error")
	}
}

// TestFindLibInRoot resolves a library through relative and absolute
// (root-relative) symlinks, as in an unpacked package tree.
func TestFindLibInRoot(t *testing.T) {
	root := t.TempDir()
	mk := func(p string) string {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		return full
	}
	os.WriteFile(mk("usr/lib/x86_64-linux-gnu/libfoo.so.1.2"), []byte("real"), 0o644)
	os.Symlink("libfoo.so.1.2", mk("usr/lib/x86_64-linux-gnu/libfoo.so.1"))
	os.Symlink("/usr/lib/x86_64-linux-gnu/libfoo.so.1", mk("lib64/libbar.so.2"))
	for _, name := range []string{"libfoo.so.1", "libbar.so.2"} {
		got, err := findLib(root, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := filepath.Join(root, "usr/lib/x86_64-linux-gnu/libfoo.so.1.2"); got != want {
			t.Errorf("%s: got %s, want %s", name, got, want)
		}
	}
	if _, err := findLib(root, "libmissing.so.0"); err == nil {
		t.Error("missing library: want an error")
	}
}

// TestStageDynamicProgram copies a dynamically linked host program and
// checks its interpreter and every NEEDED library came along.
func TestStageDynamicProgram(t *testing.T) {
	prog := "/bin/ls"
	if _, err := os.Stat(prog); err != nil {
		t.Skip("no /bin/ls")
	}
	s := &stager{dir: t.TempDir(), done: map[string]bool{}}
	if err := s.add(Program(prog, "/opt/x/ls")); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ldd", prog).Output()
	if err != nil {
		t.Skip("no ldd")
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "linux-vdso") {
			continue
		}
		name := filepath.Base(f[0])
		if _, err := os.Stat(filepath.Join(s.dir, libDir, name)); err != nil {
			t.Errorf("ldd names %s, not staged: %v", name, err)
		}
	}
	if fi, err := os.Lstat(filepath.Join(s.dir, "lib64/ld-linux-x86-64.so.2")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("interpreter link /lib64/ld-linux-x86-64.so.2 missing: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(s.dir, "opt/x/ls")); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("program not staged executable: %v", err)
	}
}

func TestStageRejectsRelativePaths(t *testing.T) {
	s := &stager{dir: t.TempDir(), done: map[string]bool{}}
	for _, p := range []string{"etc/x", "/etc/../x", "/"} {
		if err := s.add(Text(p, "x")); err == nil {
			t.Errorf("path %q: want an error", p)
		}
	}
}

// TestCpio archives a staged tree with busybox cpio and lists it back.
func TestCpio(t *testing.T) {
	bb, err := findBusybox()
	if err != nil {
		testenv.Missing(t, "%v", err)
	}
	s := &stager{dir: t.TempDir(), done: map[string]bool{}}
	for _, f := range []File{Text("/etc/a", "a"), {Path: "/bin/sh", Symlink: "/bin/busybox"}, {Path: "/init", Data: []byte("#!/bin/sh\n"), Mode: 0o755}} {
		if err := s.add(f); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "initrd")
	if err := cpio(context.Background(), bb, s.dir, out); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	cmd := exec.Command(bb, "cpio", "-t")
	cmd.Stdin = fh
	list, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(string(list))
	sort.Strings(got)
	want := []string{"bin", "bin/sh", "etc", "etc/a", "init"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("archive lists %v, want %v", got, want)
	}
}

func TestExtractVmlinuz(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{{"./boot/config-6.1.0-1-amd64", "cfg"}, {"./boot/vmlinuz-6.1.0-1-amd64", "KERNEL"}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(f.body))
	}
	tw.Close()
	out := filepath.Join(t.TempDir(), "vmlinuz")
	found, err := extractVmlinuz(&buf, out)
	if err != nil || !found {
		t.Fatalf("found=%v err=%v", found, err)
	}
	if b, _ := os.ReadFile(out); string(b) != "KERNEL" {
		t.Errorf("extracted %q", b)
	}
	if found, err := extractVmlinuz(bytes.NewReader(nil), out); found || err != nil {
		t.Errorf("empty archive: found=%v err=%v, want false, nil", found, err)
	}
}

// FuzzParseConsole: whatever a VM prints, parsing never panics and every
// step it reports was closed by its own end marker.
func FuzzParseConsole(f *testing.F) {
	f.Add(markBegin + "a\nx\n" + markEnd + "a rc=0\n" + markDone + "rc=0\n")
	f.Add(markBegin + "a\n" + markBegin + "b\n" + markEnd + "a rc=1\n" + markEnd + "b rc=x\n")
	f.Add(markEnd + " rc=\n" + markDone + "rc=-5\r\n")
	f.Fuzz(func(t *testing.T, console string) {
		res := parseConsole(console)
		for _, s := range res.Steps {
			if !strings.Contains(console, markBegin+s.Name+"\n") || !strings.Contains(console, markEnd+s.Name+" rc=") {
				t.Errorf("step %q reported without both markers", s.Name)
			}
		}
	})
}
