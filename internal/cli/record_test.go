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
	"github.com/armorer-dev/armorer/learn"
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

// TestRecordKmsgRejectsUserRecords records from the real /dev/kmsg while
// the command writes AppArmor records there itself, of its own profile, a
// child, and other profiles. The kernel marks what user space writes to
// /dev/kmsg (facility LOG_USER or above), so none of it is evidence:
// record learns nothing from it and says that it rejected the records
// (issue 13.3). The real kernel's records are recorded in the e2e suite.
func TestRecordKmsgRejectsUserRecords(t *testing.T) {
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
		// rate-limits writes per open file). <6> asks for the kernel's
		// facility 0; the kernel gives user space LOG_USER anyway.
		fmt.Fprintf(&script, "echo '<6>audit: type=1400 audit(1795600002.%03d:%d): apparmor=\"ALLOWED\" operation=\"open\" profile=\"%s\" name=\"%s\" pid=10 comm=\"sh\" requested_mask=\"r\" denied_mask=\"r\" fsuid=0 ouid=0' > /dev/kmsg\n",
			i, 900000+i, l.profile, l.name)
	}
	script.WriteString("exit 7\n")
	out, errOut, err := runRecord(context.Background(), p, "--source", "kmsg:", "--", "sh", "-c", script.String())
	if code := exitCode(err); code != 7 {
		t.Fatalf("exit %d (%v), want CMD's 7\n%s", code, err, errOut)
	}
	if !strings.Contains(errOut, "recorded 0 events of dash\n") || !strings.Contains(errOut, "AppArmor records were rejected") {
		t.Errorf("stderr:\n%s", errOut)
	}
	if strings.Contains(out, tag) {
		t.Errorf("learned from records user space wrote:\n%s", out)
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

// record finds the program's existing profile by its attachment, not only
// by the conventional file name: a file named before host.ProfileFileName
// sanitised names ("opt.my app" for /opt/my app), or named otherwise,
// is the profile, and no second one is written beside it.
func TestRecordFindsProfileByAttachment(t *testing.T) {
	p := recordRoot(t)
	h := host.New(p, nil)
	for file, text := range map[string]string{
		"opt.my app":   "profile \"/opt/my app\" flags=(complain) {\n}\n",
		"custom-name":  "profile tool /opt/bin/tool flags=(complain) {\n}\n",
		"glob-profile": "profile globbed /opt/glob/* flags=(complain) {\n}\n",
	} {
		if err := os.WriteFile(filepath.Join(p.ProfileDir, file), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := &recordOptions{IO: &IOStreams{Out: &strings.Builder{}, ErrOut: &strings.Builder{}}, Host: func() (*host.Host, error) { return h, nil }, Ctx: context.Background()}
	for prog, want := range map[string]string{"/opt/my app": "opt.my app", "/opt/bin/tool": "custom-name"} {
		f, err := recordProfileFile(o, h, prog)
		if err != nil || f.Name != want {
			t.Errorf("%s: profile file %q, %v; want %q", prog, f.Name, err, want)
		}
	}
	ents, _ := os.ReadDir(p.ProfileDir)
	if len(ents) != 4 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("profile directory holds %q: a second profile was written", names)
	}
}

// A program whose only profile is disabled (in a file not of the
// conventional name) records into that profile, which loading re-enables,
// rather than writing a second profile beside it.
func TestRecordUsesDisabledProfile(t *testing.T) {
	p := recordRoot(t)
	h := host.New(p, nil)
	if err := os.WriteFile(filepath.Join(p.ProfileDir, "custom-name"), []byte("profile tool /opt/bin/tool flags=(complain) {\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(p.ProfileDir, "disable"), 0o755)
	if err := os.Symlink("../custom-name", filepath.Join(p.ProfileDir, "disable", "custom-name")); err != nil {
		t.Fatal(err)
	}
	errOut := &strings.Builder{}
	o := &recordOptions{IO: &IOStreams{Out: &strings.Builder{}, ErrOut: errOut}, Host: func() (*host.Host, error) { return h, nil }, Ctx: context.Background()}
	f, err := recordProfileFile(o, h, "/opt/bin/tool")
	if err != nil || f.Name != "custom-name" {
		t.Errorf("profile file %q, %v; want custom-name", f.Name, err)
	}
	if !strings.Contains(errOut.String(), "disabled") {
		t.Errorf("stderr does not say the profile is disabled:\n%s", errOut)
	}
	if _, err := os.Stat(filepath.Join(p.ProfileDir, learn.ProfileFileName("/opt/bin/tool"))); err == nil {
		t.Error("a second profile was written")
	}
}
