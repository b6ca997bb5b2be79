//go:build e2e

package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/vmtest"
)

var (
	libraryTrain = flag.String("library-train", "", "TestLibraryTrain: learn the library's profiles in the VM and write them, with the training logs, under this directory")
	libraryOnly  = flag.String("library-services", "", "TestLibraryTrain, TestLibraryPeerGen: only these services (comma-separated profile names; default all)")
)

// TestLibraryTrain is how the profiles under profiles/ were made: for each
// service, on Debian 12's kernel, armorer writes a first profile in
// complain mode, the service runs its training workload with its real
// clients and is stopped, and armorer learns from the kernel's log; a
// second round with the learned profile must teach nothing new. It writes
// DIR/NAME/{NAME,training-debian12-6.1.log,learn*.txt}; a human reviews
// the profile (the held-back sensitive rules in particular) before it is
// committed. It is a generator, not a check: without -library-train it
// skips.
func TestLibraryTrain(t *testing.T) {
	if *libraryTrain == "" {
		t.Skip("generator: go test -tags e2e -run TestLibraryTrain ./test/e2e -args -library-train=DIR")
	}
	k := vmtest.Debian12
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	files := libraryFiles(t, ctx)
	m := vmtest.BootMachine(t, k, vmtest.MachineOptions{Files: files, Console: consoleFor(t)})
	t.Logf("%s: kernel %s, boot %v", k.Name, m.Release, m.Boot.Round(time.Millisecond))
	m.MustSh(t, 10*time.Second, "dmesg -C")
	for _, s := range append(slices.Clone(libServices), runtimeServices...) {
		if *libraryOnly != "" && !slices.Contains(strings.Split(*libraryOnly, ","), s.name) {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			out := filepath.Join(*libraryTrain, s.name)
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			save := func(name, data string) {
				if err := os.WriteFile(filepath.Join(out, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			m.MustSh(t, 60*time.Second, s.prepare)
			newOut := m.MustSh(t, 60*time.Second, fmt.Sprintf("armorer new --complain --write --name %s %s 2>&1", s.name, s.binary))
			file := m.MustSh(t, 10*time.Second, fmt.Sprintf("grep -l '^profile %s ' /etc/apparmor.d/* | head -1", s.name))
			file = strings.TrimSpace(file)
			if file == "" {
				t.Fatalf("armorer new wrote no profile %s: %s", s.name, newOut)
			}
			if s.flags != "" {
				m.MustSh(t, 10*time.Second, fmt.Sprintf("sed -i 's/flags=(complain)/flags=(%s, complain)/' %s", s.flags, file))
			}
			save("skeleton", m.MustSh(t, 10*time.Second, "cat "+file))
			for round := 1; round <= 2; round++ {
				m.MustSh(t, 60*time.Second, "armorer load "+file+" && dmesg -C")
				startService(t, ctx, m, s)
				tr, err := m.Sh(ctx, 5*time.Minute, s.train)
				if err != nil {
					t.Fatal(err)
				}
				if tr.Err() != nil {
					t.Errorf("round %d: training workload: %v", round, tr.Err())
				}
				st, err := m.Stop(ctx, s.daemon.Name, 30*time.Second)
				if err != nil || !st.Clean() {
					t.Errorf("round %d: stop %s: %+v %v", round, s.name, st, err)
				}
				logName := fmt.Sprintf("/root/train-%s-%d.log", s.name, round)
				m.MustSh(t, 30*time.Second, "dmesg > "+logName+" && dmesg -C")
				log, err := m.ReadFile(ctx, logName)
				if err != nil {
					t.Fatal(err)
				}
				lines := 0
				for _, l := range strings.Split(string(log), "\n") {
					if strings.Contains(l, "apparmor=") {
						lines++
					}
				}
				save(fmt.Sprintf("training-round%d-%s-%s.log", round, k.Name, k.Series), string(log))
				learn, err := m.Sh(ctx, 5*time.Minute, fmt.Sprintf("armorer learn --profile %s --write %s", s.name, logName))
				if err != nil {
					t.Fatal(err)
				}
				save(fmt.Sprintf("learn-round%d.txt", round), fmt.Sprintf("rc=%d\n%s\n--- stderr\n%s", learn.RC, learn.Stdout, learn.Stderr))
				t.Logf("round %d: %d AppArmor lines; learn rc %d, %d lines of diff", round, lines, learn.RC, strings.Count(string(learn.Stdout), "\n"))
			}
			save(s.name, m.MustSh(t, 10*time.Second, "cat "+file))
			if loc, err := m.ReadFile(ctx, "/etc/apparmor.d/local/"+s.name); err == nil && len(loc) > 0 {
				save("local", string(loc))
			}
		})
	}
}

// libraryFiles is what both library tests add to the VM: armorer, the
// attacker's shared library and the runtime services' apps.
func libraryFiles(t *testing.T, ctx context.Context) []vmtest.File {
	t.Helper()
	dir := t.TempDir()
	armorer, err := vmtest.BuildArmorer(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "evil.c")
	if err := os.WriteFile(src, []byte(evilC), 0o644); err != nil {
		t.Fatal(err)
	}
	so := filepath.Join(dir, "evil.so")
	if b, err := exec.CommandContext(ctx, "gcc", "-shared", "-fPIC", "-o", so, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc evil.so: %v\n%s", err, b)
	}
	return append([]vmtest.File{armorer, {Path: "/opt/library/evil.so", Src: so, Mode: 0o755}}, runtimeFiles(t, ctx, dir)...)
}
