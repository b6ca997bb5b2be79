package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/host"
)

// recordRoot is a fixture host: AppArmor "enabled", fake parser, a
// printk_ratelimit of 5.
func recordRoot(t *testing.T) host.Paths {
	t.Helper()
	root := t.TempDir()
	for name, data := range map[string]string{
		"sys/module/apparmor/parameters/enabled":          "Y\n",
		"sys/kernel/security/apparmor/profiles":           "",
		"sys/kernel/security/apparmor/features/file/mask": "read\n",
		"proc/sys/kernel/printk_ratelimit":                "5\n",
		"etc/apparmor.d/.keep":                            "",
	} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(root, name), []byte(data), 0o644)
	}
	t.Setenv(EnvRoot, root)
	t.Setenv(EnvStateDir, filepath.Join(root, "state"))
	p := HostPathsFromEnv()
	parser, err := exec.LookPath("fake-apparmor-parser")
	if err != nil {
		t.Skip("fake-apparmor-parser is not on PATH (testscript.Main puts it there)")
	}
	p.Parser = parser
	return p
}

func runRecord(ctx context.Context, p host.Paths, args ...string) (string, string, error) {
	ios, _, out, errOut := TestStreams()
	f := &Factory{IO: ios, Host: func() (*host.Host, error) { return host.New(p, nil), nil }}
	cmd := newRecordCmd(f, nil)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// TestRecordKmsg records from the real /dev/kmsg: the command writes
// synthetic AppArmor records there (as the kernel would print them), of
// its own profile, a child, and another profile; record keeps exactly its
// own, and learns from them.
func TestRecordKmsg(t *testing.T) {
	f, err := os.OpenFile("/dev/kmsg", os.O_RDWR, 0)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("need a readable and writable /dev/kmsg (root): %v", err)
		}
		t.Skipf("need a readable and writable /dev/kmsg (root): %v", err)
	}
	f.Close()
	p := recordRoot(t)
	// A tag of letters: learn would generalise a run of digits.
	tag := "rec" + strings.Map(func(r rune) rune { return r - '0' + 'g' }, fmt.Sprint(time.Now().UnixNano()))
	var script strings.Builder
	for i, l := range []struct{ profile, name string }{
		{"dash", "/opt/" + tag + "/config"},
		{"dash//null-/opt/" + tag + "/helper", "/opt/" + tag + "/data"},
		{"other", "/opt/" + tag + "/other-profile"},
		{"dashboard", "/opt/" + tag + "/not-a-child"},
	} {
		// One write per record, each on its own open (the kernel
		// rate-limits writes per open file).
		fmt.Fprintf(&script, "echo 'audit: type=1400 audit(1795600002.%03d:%d): apparmor=\"ALLOWED\" operation=\"open\" profile=\"%s\" name=\"%s\" pid=10 comm=\"sh\" requested_mask=\"r\" denied_mask=\"r\" fsuid=0 ouid=0' > /dev/kmsg\n",
			i, 900000+i, l.profile, l.name)
	}
	script.WriteString("exit 7\n")
	out, errOut, err := runRecord(context.Background(), p, "--source", "kmsg:", "--", "sh", "-c", script.String())
	if code := exitCode(err); code != 7 {
		t.Fatalf("exit %d (%v), want CMD's 7\n%s", code, err, errOut)
	}
	if !strings.Contains(errOut, "recorded 2 events of dash\n") {
		t.Errorf("stderr:\n%s", errOut)
	}
	for _, want := range []string{"/opt/" + tag + "/config r,", "/opt/" + tag + "/data r,"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"other-profile", "not-a-child"} {
		if strings.Contains(out, not) {
			t.Errorf("diff has another profile's event %q:\n%s", not, out)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(p.Proc, "sys/kernel/printk_ratelimit")); string(b) != "5\n" {
		t.Errorf("printk_ratelimit = %q after record, want it restored to 5", b)
	}
}

// TestRecordInterrupted: when armorer is told to stop (SIGINT/SIGTERM end
// its context), the command gets SIGTERM, and the rate limit is restored.
func TestRecordInterrupted(t *testing.T) {
	p := recordRoot(t)
	log := filepath.Join(t.TempDir(), "audit.log")
	os.WriteFile(log, nil, 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once the rate limit has been raised and the command runs.
		for i := 0; i < 1000; i++ {
			if b, _ := os.ReadFile(filepath.Join(p.Proc, "sys/kernel/printk_ratelimit")); string(b) == "0\n" {
				time.Sleep(200 * time.Millisecond)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	_, errOut, err := runRecord(ctx, p, "--source", log, "--", "sleep", "30")
	if time.Since(start) > 20*time.Second {
		t.Fatalf("record did not stop the command")
	}
	if code := exitCode(err); code != 128+15 {
		t.Errorf("exit %d (%v), want 143 (SIGTERM)\n%s", code, err, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(p.Proc, "sys/kernel/printk_ratelimit")); string(b) != "5\n" {
		t.Errorf("printk_ratelimit = %q, want restored 5\n%s", b, errOut)
	}
	if !strings.Contains(errOut, "restored ") {
		t.Errorf("stderr does not say the rate limit was restored:\n%s", errOut)
	}
}
