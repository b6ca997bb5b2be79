//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/vmtest"
)

// TestLibraryInstall runs armorer library install on a real AppArmor
// kernel with its own suite's apparmor_parser and abstractions: install
// --complain loads the profile in complain mode with an empty local/NAME;
// installing it again in enforce mode is refused (the mode differs) until
// --force, which the kernel then reports; a second profile installs with
// --json; and after lock_policy the kernel rejects a load: exit 3, and
// neither the profile nor its local/ file stays.
func TestLibraryInstall(t *testing.T) {
	for _, k := range vmtest.Kernels {
		t.Run(k.Name, func(t *testing.T) {
			a := vmtest.Need(t, k)
			ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
			defer cancel()
			armorer, err := vmtest.BuildArmorer(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			img := &vmtest.Image{Files: []vmtest.File{armorer}}
			script := `
step install-complain 60 armorer library install --complain redis
step kernel-complain 5 grep '^redis ' /sys/kernel/security/apparmor/profiles
step local 5 cat /etc/apparmor.d/local/redis
step install-mode 60 armorer library install redis
step install-force 60 armorer library install --force redis
step kernel-enforce 5 grep '^redis ' /sys/kernel/security/apparmor/profiles
step install-json 60 armorer library install --json nginx
step kernel-nginx 5 grep '^nginx ' /sys/kernel/security/apparmor/profiles
sh_step lock 5 'echo 1 > /sys/module/apparmor/parameters/lock_policy'
step install-locked 60 armorer library install postgresql
step after-locked 5 sh -c 'ls /etc/apparmor.d /etc/apparmor.d/local; grep -c "^postgresql " /sys/kernel/security/apparmor/profiles'
`
			res, err := a.Run(ctx, img, script, vmtest.Options{Timeout: 5 * time.Minute, Console: consoleFor(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: VM wall %v", k.Name, res.Wall.Round(time.Millisecond))
			for name, want := range map[string]int{
				"install-complain": 0, "kernel-complain": 0, "local": 0, "install-mode": 1, "install-force": 0,
				"kernel-enforce": 0, "install-json": 0, "kernel-nginx": 0, "lock": 0, "install-locked": 3,
			} {
				if st, ok := res.Step(name); !ok || st.RC != want {
					t.Errorf("step %s: rc %d (ran: %v), want %d:\n%s", name, st.RC, ok, want, st.Output)
				}
			}
			for step, want := range map[string]string{
				"install-complain": "loaded redis (complain)",
				"kernel-complain":  "redis (complain)",
				"local":            "# Site-specific additions to the library profile redis",
				"install-mode":     "is the library's redis in another mode; nothing was written",
				"install-force":    "replaced redis (enforce)",
				"kernel-enforce":   "redis (enforce)",
				"install-json":     `"kernel": "loaded"`,
				"kernel-nginx":     "nginx (enforce)",
				"install-locked":   "kernel: unchanged",
			} {
				if out := res.Output(step); !strings.Contains(out, want) {
					t.Errorf("%s: want %q in:\n%s", step, want, out)
				}
			}
			after := res.Output("after-locked")
			if strings.Contains(after, "postgresql") || !strings.HasSuffix(strings.TrimSpace(after), "0") {
				t.Errorf("after the kernel's rejection the postgresql files or profile stayed:\n%s", after)
			}
		})
	}
}
