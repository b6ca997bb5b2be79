//go:build e2e

package e2e

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/armorer-dev/armorer/internal/vmtest"
)

// MyappFiles builds myapp (version "1" or "2", see test/e2e/myapp) and its
// C helper, and returns the files that install them in the VM: the program
// at /opt/myapp/bin/myapp, the dynamically linked helper (with its
// libraries), the config, the directories it writes, and /etc/hosts naming
// myapp.internal. Scenarios for armorer's lifecycle start from these.
func MyappFiles(ctx context.Context, t testing.TB, version string) *vmtest.Image {
	t.Helper()
	dir := t.TempDir()
	app := filepath.Join(dir, "myapp")
	if err := vmtest.GoBuild(ctx, "./test/e2e/myapp", app, "-ldflags", "-X main.version="+version); err != nil {
		t.Fatal(err)
	}
	root, err := vmtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(dir, "myapp-helper")
	if err := vmtest.CC(ctx, helper, filepath.Join(root, "test/e2e/myapp/helper/myapp-helper.c")); err != nil {
		t.Fatal(err)
	}
	return &vmtest.Image{
		Files: []vmtest.File{
			vmtest.Program(app, "/opt/myapp/bin/myapp"),
			vmtest.Program(helper, "/opt/myapp/bin/myapp-helper"),
			vmtest.Text("/opt/myapp/config", "name=myapp\nlisten=127.0.0.1:8080\n"),
			vmtest.Text("/etc/hosts", "127.0.0.1 localhost\n127.0.0.1 myapp.internal\n::1 localhost\n"),
		},
		Dirs: []string{"/opt/myapp/data", "/opt/myapp/cache", "/var/log/myapp"},
	}
}

// MyappExercise is the busybox sh that uses myapp as its users would: the
// service in the background, requests from the client mode, the self-test.
// It leaves the service's PID in $APP.
const MyappExercise = `
/opt/myapp/bin/myapp serve >/dev/null 2>&1 &
APP=$!
wait_for 20 /opt/myapp/bin/myapp client http://127.0.0.1:8080/
step requests 30 /opt/myapp/bin/myapp client http://127.0.0.1:8080/ 'http://127.0.0.1:8080/store?key=k1&value=v1' http://127.0.0.1:8080/helper http://myapp.internal:8080/
step attr 5 cat /proc/$APP/attr/current
kill $APP
wait $APP
step selftest 30 /opt/myapp/bin/myapp --selftest
`

// myappProfile is a hand-written profile for myapp version 1 (what
// armorer's learn should arrive at, give or take); mode "complain" makes the
// skeleton armorer new would start from.
func myappProfile(abi, mode string) string {
	if mode == "complain" {
		return "abi <abi/" + abi + ">,\ninclude <tunables/global>\n\nprofile myapp /opt/myapp/bin/myapp flags=(complain) {\n  include <abstractions/base>\n  include if exists <local/myapp>\n}\n"
	}
	return "abi <abi/" + abi + ">,\ninclude <tunables/global>\n\n" + `profile myapp /opt/myapp/bin/myapp {
  include <abstractions/base>
  include <abstractions/nameservice>

  network inet stream,
  network inet6 stream,
  signal (send, receive) peer=myapp,
  signal (receive) peer=unconfined,

  /opt/myapp/bin/myapp mr,
  /opt/myapp/bin/myapp-helper ix,
  /opt/myapp/config r,
  /opt/myapp/data/* rw,
  /var/log/myapp/myapp.log w,
  owner /tmp/myapp-upload-* rw,
  /sys/kernel/mm/transparent_hugepage/hpage_pmd_size r,
  @{PROC}/sys/net/core/somaxconn r,
  owner @{PROC}/@{pid}/cgroup r,

  include if exists <local/myapp>
}
`
}
