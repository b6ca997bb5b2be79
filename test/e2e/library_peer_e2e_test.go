//go:build e2e

package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/debfetch"
	"github.com/armorer-dev/armorer/internal/vmtest"
)

var aaLogprofPeer = flag.Bool("aa-logprof-peer", false, "TestLibraryPeerGen: make profiles/NAME/testdata/aa-logprof/ again with Debian 12's aa-autodep and aa-logprof")

// peerDir is where a service's aa-logprof profile is kept, under profiles/NAME.
const peerDir = "testdata/aa-logprof"

// TestLibraryPeerGen makes what aa-genprof/aa-logprof give a hurried user
// for each library service, from the same training log armorer learned
// from (profiles/NAME/testdata/training-debian12-6.1.log[.gz]): in a
// chroot of the VM's Debian 12 userland (the services' real binaries, its
// /etc/apparmor.d, and the runtime services' apps at their VM paths) with
// Debian 12's apparmor-utils installed, aa-autodep
// writes the starting profile and aa-logprof reads the log, driven by
// scripts/aa-logprof-peer/hurried.py (every suggestion allowed, then
// saved), and aa-enforce puts it in enforce mode. The kernel printed the training log for armorer's profile NAME;
// the names in it are rewritten to the one aa-autodep's profile has (the
// program's path), as the kernel would have printed them had that profile
// been loaded. Needs root (overlay mount, chroot). It is a generator: without
// -aa-logprof-peer it skips; -library-services=a,b makes only those.
// TestLibrary runs its output.
func TestLibraryPeerGen(t *testing.T) {
	if !*aaLogprofPeer {
		t.Skip("generator: go test -tags e2e -run TestLibraryPeerGen ./test/e2e -args -aa-logprof-peer")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root, err := vmtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tree, _, err := vmtest.Services.Ensure(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := &debfetch.Fetcher{Suite: vmtest.Services.Suite, CacheDir: debfetch.DefaultCacheDir()}
	debs, err := f.Download(ctx, "apparmor-utils", "python3-apparmor", "python3-libapparmor", "libapparmor1")
	if err != nil {
		t.Fatal(err)
	}
	chroot := mountOverlay(t, ctx, tree)
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, "chroot", append([]string{chroot}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("chroot %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	for _, d := range debs {
		copyToChroot(t, chroot, d, "/tmp/"+filepath.Base(d))
	}
	run(append([]string{"dpkg", "-i"}, mapSlice(debs, func(d string) string { return "/tmp/" + filepath.Base(d) })...)...)
	copyToChroot(t, chroot, filepath.Join(root, "scripts/aa-logprof-peer/hurried.py"), "/tmp/hurried.py")
	// The runtime services' apps are not in the userland: aa-autodep
	// reads the program (a script's #! line picks its interpreter).
	for _, f := range runtimeFiles(t, ctx, t.TempDir()) {
		if err := os.MkdirAll(filepath.Join(chroot, filepath.Dir(f.Path)), 0o755); err != nil {
			t.Fatal(err)
		}
		copyToChroot(t, chroot, f.Src, f.Path)
		if err := os.Chmod(filepath.Join(chroot, f.Path), f.Mode); err != nil {
			t.Fatal(err)
		}
	}
	version := strings.TrimSpace(run("dpkg-query", "-W", "-f", "${Version}", "apparmor-utils"))

	for _, s := range append(slices.Clone(libServices), runtimeServices...) {
		if *libraryOnly != "" && !slices.Contains(strings.Split(*libraryOnly, ","), s.name) {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			log, err := trainingLog(filepath.Join(root, "profiles", s.name, "testdata"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(chroot, "tmp", s.name+".log"), renameProfile(log, s.name, s.binary), 0o644); err != nil {
				t.Fatal(err)
			}
			before := profileFiles(t, filepath.Join(chroot, "etc/apparmor.d"))
			autodep := run("aa-autodep", s.binary)
			logprof := run("/usr/bin/python3", "/tmp/hurried.py", "/tmp/"+s.name+".transcript", "-f", "/tmp/"+s.name+".log")
			// and then, as aa-genprof's user does when done: enforce.
			enforce := run("aa-enforce", "--no-reload", s.binary)
			out := filepath.Join(root, "profiles", s.name, peerDir)
			if err := os.RemoveAll(out); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			var made []string
			for _, name := range profileFiles(t, filepath.Join(chroot, "etc/apparmor.d")) {
				if slices.Contains(before, name) {
					continue
				}
				made = append(made, name)
				copyFromChroot(t, chroot, "/etc/apparmor.d/"+name, filepath.Join(out, strings.ReplaceAll(name, "/", "_")))
			}
			gzipFromChroot(t, chroot, "/tmp/"+s.name+".transcript", filepath.Join(out, "transcript.jsonl.gz"))
			note := fmt.Sprintf("apparmor-utils %s in a chroot of the VM's Debian 12 userland\naa-autodep %s\n%s\nhurried.py (aa-logprof --json) -f training log with profile=%q for %q\n%s\naa-enforce --no-reload %s\n%s\nprofile files: %s\n",
				version, s.binary, strings.TrimSpace(autodep), s.binary, s.name, strings.TrimSpace(logprof), s.binary, strings.TrimSpace(enforce), strings.Join(made, " "))
			if err := os.WriteFile(filepath.Join(out, "run.txt"), []byte(note), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s", note)
		})
	}
}

// trainingLog reads the committed training log of a service (plain or gzip).
func trainingLog(dir string) ([]byte, error) {
	m, _ := filepath.Glob(filepath.Join(dir, "training-*.log*"))
	if len(m) != 1 {
		return nil, fmt.Errorf("%s: want one training-*.log[.gz], have %v", dir, m)
	}
	b, err := os.ReadFile(m[0])
	if err != nil || !strings.HasSuffix(m[0], ".gz") {
		return b, err
	}
	z, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(z)
}

// renameProfile rewrites the profile name in the fields that carry one
// (profile=, target=, peer=): NAME and NAME//child become TO and TO//child.
func renameProfile(log []byte, name, to string) []byte {
	re := regexp.MustCompile(`\b(profile|target|peer)="` + regexp.QuoteMeta(name) + `(//[^"]*)?"`)
	return re.ReplaceAll(log, []byte(`$1="`+to+`$2"`))
}

// profileFiles lists the profile files of dir (top level and local/).
func profileFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"", "local"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Type().IsRegular() {
				out = append(out, filepath.Join(sub, e.Name()))
			}
		}
	}
	return out
}

// mountOverlay mounts a writable overlay of tree (which stays unchanged)
// with /proc, and unmounts both when t ends.
func mountOverlay(t *testing.T, ctx context.Context, tree string) string {
	t.Helper()
	dir := t.TempDir()
	upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mount := func(args ...string) {
		if out, err := exec.CommandContext(ctx, "mount", args...).CombinedOutput(); err != nil {
			t.Fatalf("mount %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	mount("-t", "overlay", "overlay", "-o", "lowerdir="+tree+",upperdir="+upper+",workdir="+work, merged)
	t.Cleanup(func() { exec.Command("umount", merged).Run() })
	mount("-t", "proc", "proc", filepath.Join(merged, "proc"))
	t.Cleanup(func() { exec.Command("umount", filepath.Join(merged, "proc")).Run() })
	return merged
}

func copyToChroot(t *testing.T, chroot, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(chroot, dst), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFromChroot(t *testing.T, chroot, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chroot, src))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// gzipFromChroot keeps the dialog transcript compressed (postgres's is
// half a megabyte).
func gzipFromChroot(t *testing.T, chroot, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chroot, src))
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mapSlice(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// libPeer is aa-logprof's profile of a library service, as TestLibrary
// loads it.
type libPeer struct {
	name  string // the profile's name: aa-autodep names it by the program's path
	file  vmtest.File
	stats profileStats
}

// libraryPeers reads the committed aa-logprof profiles, by service.
func libraryPeers(t *testing.T, root string) map[string]libPeer {
	t.Helper()
	peers := map[string]libPeer{}
	for _, s := range append(slices.Clone(libServices), runtimeServices...) {
		file := peerFile(s.binary)
		src, err := os.ReadFile(filepath.Join(root, "profiles", s.name, peerDir, file))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		st, err := statsOf(file, src)
		if err != nil {
			t.Fatal(err)
		}
		peers[s.name] = libPeer{name: s.binary, file: vmtest.File{Path: "/etc/apparmor.d/" + file, Data: src}, stats: st}
	}
	return peers
}

// peerFile is the file aa-autodep writes the profile of program to, under
// /etc/apparmor.d: the path without its first slash, the others dots.
func peerFile(program string) string {
	return strings.ReplaceAll(strings.TrimPrefix(program, "/"), "/", ".")
}

// peerState are the services' data directories: kept as they were before
// the library's profile ran, and put back before aa-logprof's profile
// runs, so that both start from the same state (the test workload creates
// its role, database and keys).
var peerState = map[string]string{
	"postgresql": "/var/lib/postgresql/15/main",
	"redis":      "/var/lib/redis",
}

// peerUndo takes away what a service's setupProbes added and its normal
// start would read (nginx loads every conf.d/*.conf).
var peerUndo = map[string]string{
	"nginx": "rm -f /etc/nginx/conf.d/probe.conf /var/www/html/shadow.txt /var/www/html/pg.txt",
}

func saveState(t *testing.T, m *vmtest.Machine, s *libService) {
	if d := peerState[s.name]; d != "" {
		m.MustSh(t, 60*time.Second, fmt.Sprintf("rm -rf /root/state-%[1]s && cp -a %[2]s /root/state-%[1]s", s.name, d))
	}
}

// provePeer runs s's test workload and probes under aa-logprof's profile
// instead of the library's, and prints the LIBRARY-PEER line.
func provePeer(t *testing.T, ctx context.Context, m *vmtest.Machine, s *libService, p libPeer) {
	if d := peerState[s.name]; d != "" {
		m.MustSh(t, 60*time.Second, fmt.Sprintf("rm -rf %[2]s && cp -a /root/state-%[1]s %[2]s", s.name, d))
	}
	if u := peerUndo[s.name]; u != "" {
		m.MustSh(t, 30*time.Second, u)
	}
	// Both profiles attach to the same program: only one may be loaded.
	m.MustSh(t, 30*time.Second, "apparmor_parser -R /etc/apparmor.d/"+s.name)
	r := proveUnder(t, ctx, m, s, underTest{profile: p.name, file: p.file.Path})
	m.Sh(ctx, 30*time.Second, "apparmor_parser -R "+p.file.Path)
	t.Logf("LIBRARY-PEER kernel=%s release=%s service=%s profile=%s rules=%d abstractions=%s load=%s functional=%d/%d denials=%d stop=%s probe_setup=%s probes=%d/%d",
		m.Kernel.Name, m.Release, s.name, p.name, p.stats.rules, strings.Join(p.stats.abstractions, ","), r.load, r.functional, len(s.test), r.denials, strings.ReplaceAll(r.stop, " ", "-"), r.setup, r.blocked, len(s.probes))
}
