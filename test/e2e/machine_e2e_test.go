//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/vmtest"
)

// TestMachine proves the Debian userland VM (vmtest.Machine) on each kernel:
// the services' binaries run, AppArmor is enabled with the kernel's release
// parser, armorer runs, files go in and out, a command is killed by its
// timeout, and daemons start and stop like under a service manager (a
// forking one through its PID file, a foreground one as the agent's child).
func TestMachine(t *testing.T) {
	for _, k := range vmtest.Kernels {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			armorer, err := vmtest.BuildArmorer(context.Background(), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			m := vmtest.BootMachine(t, k, vmtest.MachineOptions{Files: []vmtest.File{armorer}, Console: consoleFor(t)})
			t.Logf("%s: kernel %s, boot %v", k.Name, m.Release, m.Boot.Round(time.Millisecond))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			t.Logf("%s: boot timeline:\n%s", k.Name, m.MustSh(t, 10*time.Second, "dmesg | grep -E 'Linux version|unpack|Freeing initrd|Run /init' || true"))

			for _, c := range []struct {
				argv []string
				want string
			}{
				{[]string{"nginx", "-v"}, "nginx version: nginx/"},
				{[]string{"redis-server", "--version"}, "Redis server v=7"},
				{[]string{"/usr/lib/postgresql/15/bin/postgres", "--version"}, "postgres (PostgreSQL) 15"},
				{[]string{"node", "--version"}, "v18"},
				{[]string{"python3", "--version"}, "Python 3.11"},
				{[]string{"cat", "/sys/module/apparmor/parameters/enabled"}, "Y"},
				// cgroup v2 as on a host, the agent's children in a child cgroup
				{[]string{"cat", "/proc/self/cgroup"}, "0::/vmtest\n"},
				{[]string{"cat", "/sys/fs/cgroup/vmtest/cpu.max"}, "max 100000"},
				{[]string{"apparmor_parser", "--version"}, map[string]string{"3.0": "version 3.0", "4.0": "version 4.1"}[k.ABI]},
				{[]string{"armorer", "status"}, "apparmor module is loaded"},
			} {
				out, err := m.Run(ctx, 60*time.Second, c.argv...)
				if err != nil {
					t.Fatal(err)
				}
				got := string(out.Stdout) + string(out.Stderr)
				if out.RC != 0 || !strings.Contains(got, c.want) {
					t.Errorf("%v: rc %d, output %q; want %q in it", c.argv, out.RC, got, c.want)
				}
			}

			data := []byte("line 1\nbinary \x00\xff\r\n end")
			if err := m.WriteFile(ctx, "/root/in/x.bin", data, 0o600); err != nil {
				t.Fatal(err)
			}
			if got := m.MustSh(t, 10*time.Second, "stat -c %a /root/in/x.bin; cat /root/in/x.bin"); got != "600\n"+string(data) {
				t.Errorf("file written in, read by the VM: %q", got)
			}
			back, err := m.ReadFile(ctx, "/root/in/x.bin")
			if err != nil || string(back) != string(data) {
				t.Errorf("ReadFile = %q, %v", back, err)
			}

			out, err := m.Exec(ctx, vmtest.Cmd{Argv: []string{"sleep", "30"}, Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if !out.TimedOut || out.Err() == nil {
				t.Errorf("sleep 30 with a 1 s timeout: %+v", out)
			}
			if got := m.MustSh(t, 10*time.Second, "id -un; stat -c %a /tmp"); got != "root\n1777\n" {
				t.Errorf("root's shell: id and /tmp mode = %q", got)
			}
			out, err = m.Exec(ctx, vmtest.Cmd{Argv: []string{"id", "-Gn"}, User: "postgres"})
			if err != nil || out.Err() != nil || !strings.Contains(string(out.Stdout), "ssl-cert") {
				t.Errorf("id -Gn as postgres: %v %v %q, want ssl-cert among its groups", err, out.Err(), out.Stdout)
			}

			// nginx forks away: Stop signals the master named in its PID file.
			if _, err := m.Start(ctx, vmtest.Daemon{Name: "nginx", Argv: []string{"nginx"}, PIDFile: "/run/nginx.pid"}); err != nil {
				t.Fatal(err)
			}
			m.MustSh(t, 60*time.Second, "until curl -fsS -o /dev/null http://127.0.0.1/ && curl -fsS -o /dev/null 'http://[::1]/'; do sleep 0.2; done")
			if ps := m.MustSh(t, 10*time.Second, "ps -o user=,args= -C nginx"); !strings.Contains(ps, "root") || !strings.Contains(ps, "www-data") {
				t.Errorf("nginx processes:\n%s\nwant a root master and www-data workers", ps)
			}
			st, err := m.Stop(ctx, "nginx", 20*time.Second)
			if err != nil || !st.Clean() {
				t.Errorf("stop nginx: %+v, %v", st, err)
			}
			if out := m.MustSh(t, 10*time.Second, "pgrep -c nginx || true"); strings.TrimSpace(out) != "0" {
				t.Errorf("nginx processes left after stop: %s", out)
			}

			// redis stays in the foreground: it is the agent's child.
			m.MustSh(t, 10*time.Second, "install -d -o redis -g redis /run/redis")
			if _, err := m.Start(ctx, vmtest.Daemon{Name: "redis", User: "redis", Argv: []string{"redis-server", "/etc/redis/redis.conf", "--daemonize", "no"}}); err != nil {
				t.Fatal(err)
			}
			m.MustSh(t, 60*time.Second, "until redis-cli ping >/dev/null 2>&1; do sleep 0.2; done; redis-cli set k v")
			st, err = m.Stop(ctx, "redis", 20*time.Second)
			if err != nil || !st.Clean() {
				t.Errorf("stop redis: %+v, %v\nlog: %s", st, err, m.MustSh(t, 10*time.Second, "cat /var/log/vmtest/redis.log"))
			}
		})
	}
}
