package agent

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/internal/fakeparser"
	"github.com/armorer-dev/armorer/internal/testenv"
	"github.com/armorer-dev/armorer/monitor"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMain lets the test binary double as a fake apparmor_parser (see
// internal/fakeparser): real compilation, a fixture "kernel".
func TestMain(m *testing.M) {
	if os.Getenv("ARMORER_TEST_FAKE_PARSER") == "1" {
		fakeparser.Main()
	}
	os.Exit(m.Run())
}

// node is a fixture node: securityfs, /proc, the host's profile
// directory (includes), the agent's state and the profiles volume.
type node struct {
	t                                     testing.TB
	root, aafs, proc, includes, state, cm string
	parserLog                             string
}

func newNode(t testing.TB) *node {
	t.Helper()
	real := ""
	for _, p := range []string{"/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"} {
		if _, err := os.Stat(p); err == nil {
			real = p
		}
	}
	if real == "" {
		testenv.Missing(t, "apparmor_parser is not installed (Debian package apparmor)")
	}
	root := t.TempDir()
	n := &node{t: t, root: root,
		aafs:      filepath.Join(root, "sys/kernel/security/apparmor"),
		proc:      filepath.Join(root, "proc"),
		includes:  filepath.Join(root, "etc/apparmor.d"),
		state:     filepath.Join(root, "var/lib/armorer"),
		cm:        filepath.Join(root, "profiles"),
		parserLog: filepath.Join(root, "parser.log"),
	}
	for _, d := range []string{n.aafs, n.proc, n.includes, n.cm, filepath.Join(root, "sys/module/apparmor/parameters")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(n.aafs, "profiles"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(root, "sys/module/apparmor/parameters/enabled"), []byte("Y\n"), 0o644))
	// The distribution's tunables and abstractions, and one profile of
	// its own.
	for _, d := range []string{"tunables", "abstractions", "abi"} {
		must(t, os.Symlink(filepath.Join("/etc/apparmor.d", d), filepath.Join(n.includes, d)))
	}
	n.writeFile(filepath.Join(n.includes, "usr.sbin.distrod"), "profile distrod /usr/sbin/distrod {\n}\n")

	t.Setenv("ARMORER_TEST_FAKE_PARSER", "1")
	t.Setenv(fakeparser.EnvReal, real)
	t.Setenv(fakeparser.EnvReject, "")
	t.Setenv(fakeparser.EnvLog, n.parserLog)
	return n
}

func (n *node) config() Config {
	return Config{
		ProfilesDir: n.cm,
		StateDir:    n.state,
		Includes:    n.includes,
		Host: host.Paths{
			SecurityFS: filepath.Join(n.root, "sys/kernel/security"),
			Module:     filepath.Join(n.root, "sys/module/apparmor"),
			Proc:       n.proc,
			Parser:     mustExe(n.t),
		},
	}
}

func mustExe(t testing.TB) string {
	exe, err := os.Executable()
	must(t, err)
	return exe
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (n *node) writeFile(name, content string) {
	n.t.Helper()
	must(n.t, os.MkdirAll(filepath.Dir(name), 0o755))
	must(n.t, os.WriteFile(name, []byte(content), 0o644))
}

// loaded returns the fixture kernel's profiles: name → mode.
func (n *node) loaded() map[string]string {
	n.t.Helper()
	b, err := os.ReadFile(filepath.Join(n.aafs, "profiles"))
	must(n.t, err)
	m := map[string]string{}
	for line := range strings.Lines(string(b)) {
		name, mode, err := host.ParseLabel(line)
		if err == nil {
			m[name] = string(mode)
		}
	}
	return m
}

// preload puts a profile in the fixture kernel as if someone else had
// loaded it.
func (n *node) preload(name, mode string) {
	f, err := os.OpenFile(filepath.Join(n.aafs, "profiles"), os.O_APPEND|os.O_WRONLY, 0)
	must(n.t, err)
	fmt.Fprintf(f, "%s (%s)\n", name, mode)
	f.Close()
}

// confine makes a fixture process confined by label.
func (n *node) confine(pid int, label string) {
	n.writeFile(filepath.Join(n.proc, fmt.Sprint(pid), "attr", "current"), label+"\n")
	n.writeFile(filepath.Join(n.proc, fmt.Sprint(pid), "comm"), "app\n")
}

func (n *node) exit(pid int) { must(n.t, os.RemoveAll(filepath.Join(n.proc, fmt.Sprint(pid)))) }

// parserCalls returns and clears the fake parser's argv log.
func (n *node) parserCalls() []string {
	b, _ := os.ReadFile(n.parserLog)
	os.Remove(n.parserLog)
	return slices.DeleteFunc(strings.Split(string(b), "\n"), func(s string) bool { return s == "" })
}

// atomicWrite updates dir the way kubelet's atomic writer
// (k8s.io/kubernetes/pkg/volume/util/atomic_writer.go) does: the new
// payload in a fresh timestamped directory, a ..data_tmp symlink to it
// renamed over ..data, per-key symlinks KEY → ..data/KEY created for new
// keys and removed for gone ones, then the old directory removed.
func atomicWrite(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	old, _ := os.Readlink(filepath.Join(dir, dataLink))
	ts := time.Now().UTC().Format("..2006_01_02_15_04_05.000000000")
	for _, err := os.Stat(filepath.Join(dir, ts)); err == nil; _, err = os.Stat(filepath.Join(dir, ts)) {
		ts += "1"
	}
	must(t, os.Mkdir(filepath.Join(dir, ts), 0o755))
	for k, v := range files {
		must(t, os.WriteFile(filepath.Join(dir, ts, k), []byte(v), 0o644))
	}
	must(t, os.Symlink(ts, filepath.Join(dir, "..data_tmp")))
	must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, dataLink)))
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if _, keep := files[e.Name()]; !keep && !strings.HasPrefix(e.Name(), "..") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(files)) {
		os.Symlink(filepath.Join(dataLink, k), filepath.Join(dir, k))
	}
	if old != "" {
		must(t, os.RemoveAll(filepath.Join(dir, old)))
	}
}

func profile(name, flags, rules string) string {
	if flags != "" {
		flags = " flags=(" + flags + ")"
	}
	return "abi <abi/3.0>,\ninclude <tunables/global>\n\nprofile " + name + flags + " {\n  include <abstractions/base>\n" + rules + "}\n"
}

func reconcile(t *testing.T, a *Agent) Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := a.Reconcile(ctx); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	return a.Status()
}

func byName(st Status) map[string]ProfileStatus {
	m := map[string]ProfileStatus{}
	for _, p := range st.Profiles {
		m[p.Name] = p
	}
	return m
}

func testutilGather(m *monitor.Monitor, want string) error {
	return testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "armorer_agent_pod_denials_total", "armorer_agent_runtime_denials_total")
}
