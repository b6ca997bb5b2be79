package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/auditlog/source"
	"github.com/spf13/cobra"
)

// runArmorer runs this test binary as armorer (see TestMain) in dir, with
// the roots moved into dir (no AppArmor there) and its state in dir.
func runArmorer(t *testing.T, dir string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ARMORER_TEST_MAIN=1", EnvRoot+"="+filepath.Join(dir, "root"),
		EnvStateDir+"="+filepath.Join(dir, "state"), EnvProfileDir+"=", EnvBackupKeep+"=", EnvBackupMaxAge+"=")
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("armorer %v: %v", args, err)
	}
	return code, out.String(), errOut.String()
}

// checkStderr applies the properties every failing command's stderr has:
// one "armorer: " line per error, no doubled prefix, and after a usage
// error the help of the command that failed.
func checkStderr(t *testing.T, args []string, code int, stderr, helpOf string) {
	t.Helper()
	if doubledPrefix(stderr) {
		t.Errorf("armorer %v: a doubled prefix in stderr:\n%s", args, stderr)
	}
	want := "Run '" + helpOf + " --help' for usage.\n"
	switch n := strings.Count(stderr, "Run '"); {
	case code == ExitUsage && (n != 1 || !strings.Contains(stderr, want)):
		t.Errorf("armorer %v: stderr does not end with %q:\n%s", args, want, stderr)
	case code != ExitUsage && n != 0:
		t.Errorf("armorer %v: exit %d, yet stderr points to the help:\n%s", args, code, stderr)
	}
}

// doubledPrefix finds "x: x: " (an error wrapped twice with the same
// context), "armorer: armorer" and "scheme:: " in a message.
func doubledPrefix(s string) bool {
	if strings.Contains(s, "armorer: armorer") || regexp.MustCompile(`[a-z]+:: `).MatchString(s) {
		return true
	}
	for line := range strings.Lines(s) {
		parts := strings.Split(line, ": ")
		for i := 0; i+1 < len(parts); i++ {
			if parts[i] != "" && parts[i] == parts[i+1] {
				return true
			}
		}
	}
	return false
}

// TestExitCodesEveryVerb walks the whole command tree: every command
// exits 2 on an unknown flag and names its own help, and every command
// with subcommands exits 2 on an unknown one, with --help too.
func TestExitCodesEveryVerb(t *testing.T) {
	dir := t.TempDir()
	ios, _, _, _ := TestStreams()
	root := NewRootCmd(&Factory{IO: ios})
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		path := strings.Fields(c.CommandPath())[1:]
		n++
		args := append(append([]string{}, path...), "--no-such-flag")
		code, _, stderr := runArmorer(t, dir, nil, args...)
		if code != ExitUsage || !strings.Contains(stderr, "unknown flag: --no-such-flag") {
			t.Errorf("armorer %v: exit %d, want 2 for an unknown flag; stderr:\n%s", args, code, stderr)
		}
		checkStderr(t, args, code, stderr, c.CommandPath())
		if c.HasAvailableSubCommands() {
			for _, extra := range [][]string{{"nosuch"}, {"nosuch", "--help"}, {"--help", "nosuch"}} {
				args := append(append([]string{}, path...), extra...)
				code, stdout, stderr := runArmorer(t, dir, nil, args...)
				if code != ExitUsage || !strings.Contains(stderr, `unknown command "nosuch"`) || stdout != "" {
					t.Errorf("armorer %v: exit %d, want 2 for an unknown command, nothing on stdout; stderr:\n%s", args, code, stderr)
				}
				checkStderr(t, args, code, stderr, c.CommandPath())
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if n < 20 {
		t.Errorf("walked %d commands: the tree is not what this test expects", n)
	}
}

// TestExitCodes walks the error paths of each verb: usage errors (2),
// the environment failing (3), and findings or refusals (1), on a tree
// with no AppArmor.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"profiles/myapp": "profile myapp /opt/myapp/bin/myapp {\n  /opt/myapp/config r,\n}\n",
		"bad.profile":    "profile bad {\n  /etc/passwd rz,\n}\n",
		"app.log":        `audit: type=1400 audit(1764054008.005:1005): apparmor="DENIED" operation="open" profile="myapp" name="/opt/myapp/data" pid=2 comm="myapp" requested_mask="r" denied_mask="r" fsuid=0 ouid=0` + "\n",
		"root/.keep":     "",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const (
		noAppArmor = "AppArmor is not usable on this host"
		noFile     = "no such profile file in profiles"
	)
	type tc struct {
		args   []string
		code   int
		stderr string // a substring stderr must have
		help   string // the help a usage error points to ("": the verb's)
	}
	cases := []tc{
		{[]string{"no-such-verb"}, 2, `unknown command "no-such-verb"`, "armorer"},
		{[]string{"kube", "--help"}, 2, `unknown command "kube"`, "armorer"},
		{[]string{"k8s", "nosuch", "--help"}, 2, `unknown command "nosuch" for "armorer k8s"`, "armorer k8s"},

		// Sources: a file the user named is input (2); auditd's own log
		// missing, or a live source refused, is the environment (3).
		{[]string{"events", "nosuch.log"}, 2, "cannot open nosuch.log: no such file or directory", ""},
		{[]string{"events", "bogus:"}, 2, `unknown source scheme "bogus:"`, ""},
		{[]string{"learn", "--dir", "profiles", "nosuch.log"}, 2, "cannot open nosuch.log", ""},
		{[]string{"learn", "--glob", "sloppy", "app.log"}, 2, `glob mode "sloppy"`, ""},
		{[]string{"simulate"}, 2, "requires at least 1 arg", ""},
		{[]string{"simulate", "no/such/profile", "app.log"}, 2, "no/such/profile", ""},
		{[]string{"simulate", "--dir", "profiles", "myapp", "app.log"}, 1, "1 accesses would be denied", ""},

		// Files.
		{[]string{"check", "nosuch"}, 2, "nosuch: cannot read: no such file", ""},
		{[]string{"check", "bad.profile"}, 1, "1 of 1 files invalid", ""},
		{[]string{"fmt", "nosuch"}, 2, "nosuch", ""},
		{[]string{"new", "/no/such/binary"}, 2, "/no/such/binary", ""},
		{[]string{"new", "--abi", "2.0", "/bin/sh"}, 2, "2.0", ""},

		// Host verbs without AppArmor: 3, before touching a file.
		{[]string{"status"}, 3, noAppArmor, ""},
		{[]string{"load", "profiles/myapp"}, 3, noAppArmor, ""},
		{[]string{"unload", "myapp"}, 3, noAppArmor, ""},
		{[]string{"complain", "--dir", "profiles", "myapp"}, 3, noAppArmor, ""},
		{[]string{"enforce", "--dir", "profiles", "--force", "myapp"}, 3, noAppArmor, ""},
		{[]string{"disable", "--dir", "profiles", "myapp"}, 3, noAppArmor, ""},
		{[]string{"restore", "--dir", "profiles", "myapp"}, 3, noAppArmor, ""},
		{[]string{"record", "--", "true"}, 3, noAppArmor, ""},
		{[]string{"record", "true"}, 2, "write the command after --", ""},
		{[]string{"record", "--", "/no/such/program"}, 2, "/no/such/program", ""},
		{[]string{"load"}, 2, "requires at least 1 arg", ""},

		// Offline (--no-load): usage errors and refusals, no kernel needed.
		{[]string{"complain", "--dir", "profiles", "--no-load", "nosuch"}, 2, "armorer complain: nosuch: " + noFile, ""},
		{[]string{"enforce", "--dir", "profiles", "--no-load", "myapp"}, 1, "no recorded events for myapp", ""},
		{[]string{"restore", "--dir", "profiles", "--no-load", "myapp"}, 1, "no kept versions of profiles/myapp", ""},
		{[]string{"restore", "--dir", "profiles", "--list", "nosuch"}, 2, noFile, ""},
		{[]string{"restore", "--dir", "profiles", "--no-load", "--version", "3", "myapp"}, 1, "no kept versions", ""},
		{[]string{"restore", "--list", "--version", "1", "myapp"}, 2, "exclude each other", ""},
		{[]string{"disable", "--dir", "profiles", "--no-load", "nosuch"}, 2, noFile, ""},
	}
	if _, err := os.Stat(source.DefaultAuditdLog); errors.Is(err, os.ErrNotExist) {
		for _, verb := range [][]string{{"events"}, {"learn", "--dir", "profiles"}, {"simulate", "--dir", "profiles", "myapp"}} {
			cases = append(cases, tc{append(verb, "auditd:"), 3, "auditd: cannot open " + source.DefaultAuditdLog + ": no such file or directory", ""})
		}
	}
	if f, err := os.Open("/dev/kmsg"); err != nil {
		cases = append(cases, tc{[]string{"events", "kmsg:"}, 3, "kmsg: cannot open /dev/kmsg", ""})
	} else {
		f.Close()
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, _, stderr := runArmorer(t, dir, nil, c.args...)
			if code != c.code || !strings.Contains(stderr, c.stderr) {
				t.Errorf("armorer %v: exit %d, want %d with %q; stderr:\n%s", c.args, code, c.code, c.stderr, stderr)
			}
			help := c.help
			if help == "" {
				help = "armorer " + c.args[0]
			}
			checkStderr(t, c.args, code, stderr, help)
		})
	}
	// No verb above wrote into the profile directory or outside dir.
	if b, err := os.ReadFile(filepath.Join(dir, "profiles/myapp")); err != nil || string(b) != files["profiles/myapp"] {
		t.Errorf("profiles/myapp changed: %q, %v", b, err)
	}
}
