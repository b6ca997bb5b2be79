//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/testenv"
	"github.com/armorer-dev/armorer/internal/vmtest"
)

// TestLibraryContainer confines real containers with the library's
// container variants (profiles/NAME/k8s/profiles/NAME-container), on each
// kernel, in one VM boot per kernel: Debian 12's runc runs an OCI bundle
// whose process.apparmorProfile is the variant's name, as kubelet's
// runtime does for securityContext.appArmorProfile localhostProfile. The
// bundle's tree stands in for the official image: the program at the
// image's path (Debian 12's build of it, with its libraries), the image's
// user, working directory and volumes, a read-only root, no capabilities,
// no_new_privs, the pod's cgroup (cgroup namespace, CPU limit). The
// workload must run with zero DENIED lines of the profile and the
// container stop cleanly on SIGTERM; every probe must fail and be logged
// as DENIED by the profile. Each prints a LIBRARY-CONTAINER line.
func TestLibraryContainer(t *testing.T) {
	root, err := vmtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	// The userland's runc (Debian 12's, as its libc) on both kernels,
	// fetched once.
	runc, err := runcFiles(context.Background(), vmtest.Debian12)
	if err != nil {
		testenv.Missing(t, "Debian's runc: %v", err)
	}
	for _, k := range vmtest.Kernels {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
			defer cancel()
			files := append(slices.Clone(runc), containerPrograms(t, ctx, t.TempDir())...)
			for _, c := range libContainers {
				files = append(files,
					vmtest.File{Path: "/etc/apparmor.d/" + c.profile, Src: filepath.Join(root, "profiles", c.service, "k8s/profiles", c.profile), Mode: 0o644},
					vmtest.Text(c.bundle()+"/config.json", c.config()))
			}
			m := vmtest.BootMachine(t, k, vmtest.MachineOptions{Files: files, Console: consoleFor(t)})
			t.Logf("%s: kernel %s, boot %v; %s", k.Name, m.Release, m.Boot.Round(time.Millisecond), firstLine(m.MustSh(t, 10*time.Second, "runc --version")))
			for _, c := range libContainers {
				t.Run(c.service, func(t *testing.T) {
					r := proveContainer(t, ctx, m, c)
					t.Logf("LIBRARY-CONTAINER kernel=%s release=%s service=%s profile=%s functional=%d/%d denials=%d stop=%s probes=%d/%d",
						k.Name, m.Release, c.service, c.profile, r.functional, len(c.test), r.denials, r.stop, r.blocked, len(c.probes))
				})
			}
		})
	}
}

// libContainer is a library service in a container: its image's tree,
// built in the VM, and how the Kubernetes manifest runs it.
type libContainer struct {
	service string // profiles/SERVICE
	profile string // the container variant, by name
	comm    string // the container process's name (pgrep -x)
	// image builds the bundle's rootfs in $R from the VM's files (shell).
	image    string
	uid, gid int
	args     []string
	cwd      string
	// volumes are bind mounts from the bundle directory (name to the
	// container path); writable are tmpfs mounts (mode 1777) that open
	// the probes' targets under a read-only root, so that only AppArmor
	// stands in the way.
	volumes  map[string]string
	writable []string
	ready    string
	// holdsOpen, when set, is a file the running program must hold open
	// (its name as the fd's link ends): the Go runtime keeps its cgroup's
	// cpu.max open to follow the CPU limit.
	holdsOpen string
	test      []check
	probes    []probe
	// afterProbes undoes what would keep it from stopping cleanly.
	afterProbes string
}

func (c *libContainer) bundle() string { return "/root/ctr/" + c.service }

// copyLibs copies the shared libraries of a program into $R where the
// merged-/usr image has them (/lib is a link to usr/lib there).
func copyLibs(prog string) string {
	return `for l in $(ldd ` + prog + ` | grep -o '/[^ ]*'); do d=$(dirname "$(realpath "$l")"); mkdir -p "$R$d"; cp -L "$l" "$R$d/"; done
`
}

// imageBase is a merged-/usr tree with /proc, /sys, /dev and /tmp.
const imageBase = `set -e
rm -rf "$R"
mkdir -p "$R/usr/bin" "$R/usr/lib/x86_64-linux-gnu" "$R/usr/lib64" "$R/etc" "$R/proc" "$R/sys" "$R/dev" "$R/tmp" "$R/root"
chmod 1777 "$R/tmp"
ln -s usr/bin "$R/bin"; ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"
cp -a /usr/lib64/ld-linux-x86-64.so.2 "$R/usr/lib64/"
`

var libContainers = []*libContainer{
	{
		service: "redis",
		profile: "redis-container",
		comm:    "redis-server",
		// redis:7: the server at /usr/local/bin/redis-server (the rdb and
		// aof checkers link to it), OpenSSL's configuration, data in /data.
		image: imageBase + `mkdir -p "$R/usr/local/bin" "$R/data" "$R/etc/ssl" "$R/usr/lib/ssl" "$R/etc/cron.d" "$R/root/.ssh"
cp /usr/bin/redis-check-rdb "$R/usr/local/bin/redis-server"
ln -s redis-server "$R/usr/local/bin/redis-check-rdb"; ln -s redis-server "$R/usr/local/bin/redis-check-aof"
` + copyLibs("/usr/bin/redis-check-rdb") + `cp /etc/ssl/openssl.cnf "$R/etc/ssl/"; ln -s /etc/ssl/openssl.cnf "$R/usr/lib/ssl/openssl.cnf"
printf 'root:x:0:0:root:/root:/bin/bash\nredis:x:999:999::/home/redis:/usr/sbin/nologin\n' > "$R/etc/passwd"
cp /opt/library/evil.so "$R/tmp/evil.so"
rm -rf /root/ctr/redis/data; install -d -o 999 -g 999 /root/ctr/redis/data
`,
		uid: 999, gid: 999,
		// The StatefulSet's command and args. The probes need CONFIG SET
		// dir and MODULE LOAD, which Redis 7 refuses by default: enabled,
		// as in older Redis versions and hurried configurations.
		args:     []string{"redis-server", "--appendonly", "yes", "--enable-protected-configs", "yes", "--enable-module-command", "yes"},
		cwd:      "/data",
		volumes:  map[string]string{"data": "/data"},
		writable: []string{"/etc/cron.d", "/root/.ssh"},
		ready:    `redis-cli -h 127.0.0.1 ping | grep -q PONG`,
		test: []check{
			{"keys over IPv4", `redis-cli -h 127.0.0.1 set session:42 bob | grep -q OK && redis-cli -h 127.0.0.1 get session:42 | grep -q bob`},
			{"sets and sorted sets over IPv6", `redis-cli -h ::1 sadd tags x y z | grep -q 3 && redis-cli -h ::1 zadd board 10 ann | grep -q 1`},
			{"save", `redis-cli -h 127.0.0.1 save | grep -q OK && test -s /root/ctr/redis/data/dump.rdb`},
			{"background save", `redis-cli -h 127.0.0.1 bgsave && sleep 2 && redis-cli -h 127.0.0.1 info persistence | grep -q 'rdb_last_bgsave_status:ok'`},
			{"AOF rewrite", `redis-cli -h 127.0.0.1 bgrewriteaof && sleep 2 && redis-cli -h 127.0.0.1 info persistence | grep -q 'aof_last_bgrewrite_status:ok' && ls /root/ctr/redis/data/appendonlydir | grep -q manifest`},
			{"benchmark", `redis-benchmark -q -h 127.0.0.1 -n 300 -c 2 -t set,get,lpush >/dev/null`},
		},
		afterProbes: `redis-cli -h 127.0.0.1 config set dir /data && redis-cli -h 127.0.0.1 config set dbfilename dump.rdb`,
		probes: []probe{
			{"CONFIG SET dir /etc/cron.d + SAVE", `redis-cli -h 127.0.0.1 config set dir /etc/cron.d && redis-cli -h 127.0.0.1 config set dbfilename evil && redis-cli -h 127.0.0.1 save | grep -q '^OK'`, regexp.MustCompile(`name="/etc/cron\.d/`)},
			{"CONFIG SET dir /root/.ssh + SAVE", `redis-cli -h 127.0.0.1 config set dir /root/.ssh && redis-cli -h 127.0.0.1 config set dbfilename authorized_keys && redis-cli -h 127.0.0.1 save | grep -q '^OK'`, regexp.MustCompile(`name="/root/\.ssh/`)},
			{"MODULE LOAD from /tmp", `redis-cli -h 127.0.0.1 module load /tmp/evil.so | grep -q '^OK'`, regexp.MustCompile(`name="/tmp/evil\.so"`)},
		},
	},
	{
		service: "go",
		profile: "go-container",
		comm:    "server",
		// distroless static: the program at /app/bin/server, the content
		// at /app/public, the nonroot user. It has no shell: one is added
		// (dash as /bin/sh) so that the shell probe tests the profile, not
		// the image; and the probes' targets, DAC open.
		image: imageBase + `mkdir -p "$R/app/bin" "$R/etc/cron.d" "$R/root/.ssh"
cp /opt/library/goapp "$R/app/bin/server"
` + runtimeContent(`"$R/app/public"`) + `printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$R/etc/passwd"
cp /usr/bin/dash "$R/usr/bin/dash"; ln -s dash "$R/usr/bin/sh"
` + copyLibs("/usr/bin/dash") + `echo 'root:*:19000:0:99999:7:::' > "$R/etc/shadow"; chmod 0644 "$R/etc/shadow"
echo 'PRIVATE KEY' > "$R/root/.ssh/id_rsa"; chmod 0644 "$R/root/.ssh/id_rsa"
`,
		uid: 65532, gid: 65532,
		// The Deployment's program (the test app: the same server with the
		// probes' endpoint), on the Deployment's port and content.
		args:      []string{"/app/bin/server", "-addr", ":8080", "-root", "/app/public"},
		cwd:       "/",
		writable:  []string{"/etc/cron.d"},
		ready:     `curl -fsS -o /dev/null http://127.0.0.1:8080/`,
		holdsOpen: "/cpu.max",
		test:      append(runtimeTest("8080"), check{"primes below another bound, IPv6", `curl -fsS 'http://[::1]:8080/primes?n=250000' | grep -qx 22044`}),
		probes:    rceProbes("8080", probe{name: "RCE opens a raw socket", denied: rawInet}),
	},
}

// containerPrograms are what the images are built from besides the
// userland: the go test app (static) and the attacker's library.
func containerPrograms(t *testing.T, ctx context.Context, dir string) []vmtest.File {
	t.Helper()
	goapp := filepath.Join(dir, "goapp")
	if err := vmtest.GoBuild(ctx, "./test/e2e/testdata/apps/goapp", goapp); err != nil {
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
	return []vmtest.File{vmtest.Program(goapp, "/opt/library/goapp"), {Path: "/opt/library/evil.so", Src: so, Mode: 0o755}}
}

// config is the bundle's config.json: the runtime spec as kubelet's
// runtime writes it for the manifest's securityContext (non-root user,
// no capabilities, allowPrivilegeEscalation false, readOnlyRootFilesystem,
// the profile by name), the pod's cgroup with a CPU limit in a cgroup
// namespace, no network namespace (the VM's loopback is the pod's).
func (c *libContainer) config() string {
	mounts := []map[string]any{
		{"destination": "/proc", "type": "proc", "source": "proc"},
		{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": []string{"nosuid", "noexec", "nodev", "ro"}},
		{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
	}
	var names []string
	for n := range c.volumes {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		mounts = append(mounts, map[string]any{"destination": c.volumes[n], "type": "bind", "source": c.bundle() + "/" + n, "options": []string{"rbind", "rw"}})
	}
	for _, w := range c.writable {
		mounts = append(mounts, map[string]any{"destination": w, "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "nodev", "mode=1777", "size=16m"}})
	}
	none := []string{}
	id := "library-" + c.service
	spec := map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{
			"terminal": false, "user": map[string]any{"uid": c.uid, "gid": c.gid}, "args": c.args,
			"env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, "cwd": c.cwd,
			"apparmorProfile": c.profile, "noNewPrivileges": true,
			"capabilities": map[string]any{"bounding": none, "effective": none, "permitted": none, "inheritable": none, "ambient": none},
		},
		"root":     map[string]any{"path": "rootfs", "readonly": true},
		"hostname": c.service,
		"mounts":   mounts,
		"linux": map[string]any{
			"cgroupsPath": "/kubepods/burstable/pod-" + c.service + "/" + id,
			"resources":   map[string]any{"cpu": map[string]any{"quota": 100000, "period": 100000}},
			"namespaces":  []map[string]string{{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}},
		},
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b)
}

// proveContainer builds c's image, loads its profile in enforce mode, runs
// the container (runc run, as a daemon the test stops with SIGTERM), the
// workload and then the probes, failing t for every miss.
func proveContainer(t *testing.T, ctx context.Context, m *vmtest.Machine, c *libContainer) proof {
	r := proof{load: "ok", setup: "ok", stop: "n/a"}
	m.MustSh(t, 2*time.Minute, "R="+c.bundle()+"/rootfs\n"+c.image)
	out := m.MustSh(t, 60*time.Second, "apparmor_parser -r /etc/apparmor.d/"+c.profile+" 2>&1 && cat /sys/kernel/security/apparmor/profiles")
	if !strings.Contains(out, c.profile+" (enforce)") {
		t.Fatalf("%s not loaded in enforce mode:\n%s", c.profile, out)
	}
	m.MustSh(t, 10*time.Second, "dmesg -C")
	d := vmtest.Daemon{Name: "ctr-" + c.service, Argv: []string{"runc", "run", "--no-pivot", "--bundle", c.bundle(), "library-" + c.service}}
	if err := tryStartService(ctx, m, d, c.ready); err != nil {
		t.Fatalf("%s: %v", c.service, err)
	}
	pids := m.MustSh(t, 10*time.Second, "pgrep -x "+c.comm)
	attr := m.MustSh(t, 10*time.Second, fmt.Sprintf("for p in $(pgrep -x %s); do cat /proc/$p/attr/current; echo; done | sort -u", c.comm))
	if strings.TrimSpace(attr) != c.profile+" (enforce)" {
		t.Errorf("%s's processes (%s) run as %q, want %q", c.service, strings.Fields(pids), attr, c.profile+" (enforce)")
	}
	t.Logf("%s: in the container: %s", c.profile, strings.ReplaceAll(strings.TrimSpace(m.MustSh(t, 10*time.Second, fmt.Sprintf("p=$(pgrep -x %s | head -1); cat /proc/$p/cgroup; cat /sys/fs/cgroup$(cut -d: -f3 /proc/$p/cgroup)/cpu.max; id=$(stat -c %%u /proc/$p); echo uid=$id; grep -E '^(CapEff|NoNewPrivs)' /proc/$p/status", c.comm))), "\n", "; "))
	if c.holdsOpen != "" {
		fds := m.MustSh(t, 10*time.Second, fmt.Sprintf("for p in $(pgrep -x %s); do readlink /proc/$p/fd/*; done", c.comm))
		if !slices.ContainsFunc(strings.Fields(fds), func(l string) bool { return strings.HasSuffix(l, c.holdsOpen) }) {
			t.Errorf("%s does not hold %s open; its files:\n%s", c.service, c.holdsOpen, fds)
		} else {
			t.Logf("%s: holds %s open", c.profile, c.holdsOpen)
		}
	}
	for _, ch := range c.test {
		o, err := m.Sh(ctx, 2*time.Minute, ch.sh)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Err(); err != nil {
			t.Errorf("%s: %s: %v", c.service, ch.name, err)
			continue
		}
		r.functional++
	}
	dn := denials(m.MustSh(t, 30*time.Second, "dmesg; dmesg -C"), c.profile)
	r.denials = len(dn)
	if len(dn) > 0 {
		t.Errorf("%s: %d DENIED lines under the normal workload:\n%s", c.service, len(dn), strings.Join(dn, "\n"))
	}
	for _, p := range c.probes {
		m.MustSh(t, 10*time.Second, "dmesg -C")
		o, err := m.Sh(ctx, 60*time.Second, p.sh)
		if err != nil {
			t.Fatal(err)
		}
		kern := m.MustSh(t, 30*time.Second, "dmesg")
		logged := slices.ContainsFunc(denials(kern, c.profile), p.denied.MatchString)
		switch {
		case o.RC == 0:
			t.Errorf("%s: probe %q succeeded:\n%s%s", c.service, p.name, o.Stdout, o.Stderr)
		case !logged:
			t.Errorf("%s: probe %q failed but no DENIED line of %s matches %s:\n%s%s\nkernel:\n%s", c.service, p.name, c.profile, p.denied, o.Stdout, o.Stderr, kern)
		default:
			r.blocked++
			t.Logf("%s: probe %q blocked: %s", c.profile, p.name, firstLine(strings.TrimSpace(string(o.Stderr)+string(o.Stdout))))
		}
	}
	m.MustSh(t, 10*time.Second, "dmesg -C")
	if c.afterProbes != "" {
		if err := shErr(m.Sh(ctx, 30*time.Second, c.afterProbes)); err != nil {
			t.Errorf("%s: after the probes: %v", c.service, err)
		}
	}
	st, err := m.Stop(ctx, d.Name, 30*time.Second)
	switch {
	case err != nil:
		r.stop = "error"
		t.Errorf("stop %s: %v", c.service, err)
	case !st.Clean():
		r.stop = "unclean"
		log, _ := m.ReadFile(ctx, "/var/log/vmtest/"+d.Name+".log")
		t.Errorf("stop %s: %+v, want a clean exit on SIGTERM; its log:\n%s", c.service, st, log)
	default:
		r.stop = "clean"
	}
	if dn := denials(m.MustSh(t, 30*time.Second, "dmesg; dmesg -C"), c.profile); len(dn) > 0 {
		t.Errorf("%s: DENIED lines after the probes, while stopping:\n%s", c.service, strings.Join(dn, "\n"))
	}
	return r
}
