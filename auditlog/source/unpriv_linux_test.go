//go:build linux

package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// An unprivileged user gets errors that say what is missing. The test
// runs its own binary again as nobody (uid 65534) and checks what Open
// says there for kmsg:, netlink: and a root-only file.
func TestUnprivilegedErrors(t *testing.T) {
	if os.Getenv("ARMORER_SOURCE_UNPRIV") != "" {
		unprivilegedChild(os.Getenv("ARMORER_SOURCE_UNPRIV"))
		return
	}
	if os.Geteuid() != 0 {
		needReal(t, "needs root to run a child as nobody")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "source.test")
	copyFile(t, self, bin)
	secret := filepath.Join(dir, "root-only.log")
	writeFile(t, secret, "x\n")
	os.Chmod(secret, 0o600)

	remote := needJournal(t)
	journal := filepath.Join(dir, "root-only.journal")
	writeJournal(t, remote, journal, exportText(0, testEntries[0]))
	os.Chmod(journal, 0o600)

	cmd := exec.Command(bin, "-test.run=^TestUnprivilegedErrors$")
	cmd.Env = append(os.Environ(), "ARMORER_SOURCE_UNPRIV="+secret, "ARMORER_SOURCE_UNPRIV_JOURNAL="+journal)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child as nobody: %v\n%s", err, out)
	}
	t.Logf("as nobody:\n%s", out)
	restrict, _ := os.ReadFile("/proc/sys/kernel/dmesg_restrict")
	want := []string{
		"netlink: UnavailableError permission: " + `source "netlink:": join the audit multicast group (AUDIT_NLGRP_READLOG): operation not permitted (needs CAP_AUDIT_READ`,
		"file: UnavailableError permission: " + `source "` + secret + `": open ` + secret + `: permission denied (run as root or as a member of the group that owns the file)`,
		"journal run: UnavailableError: " + `source "journal:` + journal + `": journalctl --output=json --no-pager --file=` + journal,
		"Permission denied (run as root or as a member of the systemd-journal or adm group)",
	}
	if strings.TrimSpace(string(restrict)) == "1" {
		want = append(want, "kmsg: UnavailableError permission: "+`source "kmsg:": open /dev/kmsg: operation not permitted (reading the kernel log needs root or CAP_SYSLOG`)
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("child output lacks %q", w)
		}
	}
}

// unprivilegedChild reports what Open says for each source.
func unprivilegedChild(secret string) {
	for _, c := range []struct{ name, spec string }{{"kmsg", "kmsg:"}, {"netlink", "netlink:"}, {"file", secret}} {
		src, err := OpenSource(c.spec, SourceOptions{})
		var ue *UnavailableError
		switch {
		case err == nil:
			src.Close()
			fmt.Printf("%s: opened\n", c.name)
		case errors.As(err, &ue) && errors.Is(err, os.ErrPermission):
			fmt.Printf("%s: UnavailableError permission: %v\n", c.name, err)
		case errors.As(err, &ue):
			fmt.Printf("%s: UnavailableError: %v\n", c.name, err)
		default:
			fmt.Printf("%s: other error: %v\n", c.name, err)
		}
	}
	// journalctl starts, then fails to read the file.
	spec := "journal:" + os.Getenv("ARMORER_SOURCE_UNPRIV_JOURNAL")
	src, err := OpenSource(spec, SourceOptions{})
	if err != nil {
		fmt.Printf("journal open: %v\n", err)
		return
	}
	err = src.Run(context.Background(), make(chan Record, 16))
	var ue *UnavailableError
	if errors.As(err, &ue) {
		fmt.Printf("journal run: UnavailableError: %v\n", err)
	} else {
		fmt.Printf("journal run: %v\n", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
