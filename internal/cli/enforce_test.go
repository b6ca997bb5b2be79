package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/internal/testenv"
)

// fakeGate records what enforce asked and answers as told.
type fakeGate struct {
	got GateRequest
	rep GateReport
	err error
}

func (g *fakeGate) Check(_ context.Context, req GateRequest) (*GateReport, error) {
	g.got = req
	return &g.rep, g.err
}

// gateHost is a fixture host whose kernel side is fake-apparmor-parser
// (this test binary, through a symlink: see TestMain).
func gateHost(t *testing.T) (host.Paths, string) {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/apparmor_parser"); err != nil {
		testenv.Missing(t, "apparmor_parser is not installed (Debian package apparmor)")
	}
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(dir, "fake-apparmor-parser")
	if err := os.Symlink(exe, fake); err != nil {
		t.Fatal(err)
	}
	p := host.Paths{
		SecurityFS: filepath.Join(dir, "sys/kernel/security"),
		Module:     filepath.Join(dir, "sys/module/apparmor"),
		Proc:       filepath.Join(dir, "proc"),
		ProfileDir: filepath.Join(dir, "etc/apparmor.d"),
		StateDir:   filepath.Join(dir, "state"),
		Parser:     fake,
	}
	for name, data := range map[string]string{
		"sys/module/apparmor/parameters/enabled":          "Y\n",
		"sys/kernel/security/apparmor/profiles":           "myapp (complain)\n",
		"sys/kernel/security/apparmor/features/file/mask": "read\n",
		"proc/1/comm":          "init\n",
		"etc/apparmor.d/myapp": "profile myapp /opt/myapp/bin/myapp flags=(complain) {\n  /opt/myapp/config r,\n}\n",
	} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644)
	}
	return p, filepath.Join(p.ProfileDir, "myapp")
}

func runEnforce(t *testing.T, p host.Paths, gate EnforceGate, args ...string) (string, string, error) {
	t.Helper()
	ios, _, out, errOut := TestStreams()
	f := &Factory{IO: ios, Host: func() (*host.Host, error) { return host.New(p, nil), nil }}
	if gate != nil {
		f.EnforceGate = func() (EnforceGate, error) { return gate, nil }
	}
	cmd := newEnforceCmd(f, nil)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestEnforceGate(t *testing.T) {
	cases := []struct {
		name     string
		gate     *fakeGate
		args     []string
		wantCode int
		wantErr  string
		enforced bool
	}{
		{name: "no gate built in", args: []string{"myapp"}, wantCode: ExitFound, wantErr: "simulate gate is not available"},
		{name: "no gate, forced", args: []string{"--force", "myapp"}, enforced: true},
		{name: "no recorded events", gate: &fakeGate{}, args: []string{"myapp"}, wantCode: ExitFound, wantErr: "no recorded events for myapp: an empty check proves nothing"},
		{name: "denials", gate: &fakeGate{rep: GateReport{Events: 12, Denials: []string{"file /opt/myapp/data/x w", "capability net_raw"}}}, args: []string{"myapp"},
			wantCode: ExitFound, wantErr: "enforce mode would deny 2 recorded access(es) (of 12 events)"},
		{name: "clean", gate: &fakeGate{rep: GateReport{Events: 12}}, args: []string{"--events", "audit.log", "myapp"}, enforced: true},
		{name: "gate fails", gate: &fakeGate{err: errors.New("state directory unreadable")}, args: []string{"myapp"}, wantCode: ExitEnviron, wantErr: "simulate gate: state directory unreadable"},
		{name: "denials, forced", gate: &fakeGate{rep: GateReport{Events: 1, Denials: []string{"x"}}}, args: []string{"--force", "myapp"}, enforced: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, file := gateHost(t)
			var gate EnforceGate
			if tc.gate != nil {
				gate = tc.gate
			}
			_, stderr, err := runEnforce(t, p, gate, tc.args...)
			if got := exitCode(err); got != tc.wantCode {
				t.Fatalf("exit %d (%v; stderr %q), want %d", got, err, stderr, tc.wantCode)
			}
			if tc.wantErr != "" && !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr = %q, want %q", stderr, tc.wantErr)
			}
			b, _ := os.ReadFile(file)
			if enforced := !bytes.Contains(b, []byte("complain")); enforced != tc.enforced {
				t.Errorf("file enforced = %v, want %v:\n%s", enforced, tc.enforced, b)
			}
			if tc.gate != nil && !slices.Contains(tc.args, "--force") {
				if tc.gate.got.File != file || len(tc.gate.got.Profiles) != 1 || tc.gate.got.Profiles[0] != "myapp" {
					t.Errorf("gate asked %+v", tc.gate.got)
				}
			}
			if tc.name == "clean" && (len(tc.gate.got.Sources) != 1 || tc.gate.got.Sources[0] != "audit.log") {
				t.Errorf("--events not passed to the gate: %+v", tc.gate.got)
			}
		})
	}
}

// writingGate is a gate during whose check the profile file changes: the
// content enforce would put in enforce mode is not the one the gate checked.
type writingGate struct {
	file, content string
}

func (g *writingGate) Check(_ context.Context, req GateRequest) (*GateReport, error) {
	if err := os.WriteFile(g.file, []byte(g.content), 0o644); err != nil {
		return nil, err
	}
	return &GateReport{Events: 12}, nil
}

// The gate's verdict is about the content it read: a write between the
// check and the mode switch (under the directory's lock) is refused, not
// enforced unchecked.
func TestEnforceGateFileChanged(t *testing.T) {
	p, file := gateHost(t)
	changed := "profile myapp /opt/myapp/bin/myapp flags=(complain) {\n  /opt/myapp/config r,\n  capability sys_admin,\n}\n"
	_, stderr, err := runEnforce(t, p, &writingGate{file: file, content: changed}, "myapp")
	if got := exitCode(err); got != ExitFound || !strings.Contains(stderr, "changed since the simulate gate checked it") {
		t.Fatalf("exit %d (%v), stderr %q; want a refusal (exit %d)", got, err, stderr, ExitFound)
	}
	if b, _ := os.ReadFile(file); string(b) != changed {
		t.Errorf("file after the refusal:\n%s", b)
	}
}

// The gate's verdict covers the files the profile includes too: a rule
// written into local/myapp (a learn --write, or any writer) between the
// check and the switch is refused, not enforced unchecked, also when the
// included file did not exist at the check (include if exists).
func TestEnforceGateIncludeChanged(t *testing.T) {
	for _, existed := range []bool{true, false} {
		t.Run(map[bool]string{true: "changed", false: "created"}[existed], func(t *testing.T) {
			p, file := gateHost(t)
			profile := "profile myapp /opt/myapp/bin/myapp flags=(complain) {\n  /opt/myapp/config r,\n  include if exists <local/myapp>\n}\n"
			if err := os.WriteFile(file, []byte(profile), 0o644); err != nil {
				t.Fatal(err)
			}
			local := filepath.Join(p.ProfileDir, "local", "myapp")
			os.MkdirAll(filepath.Dir(local), 0o755)
			if existed {
				if err := os.WriteFile(local, []byte("/opt/myapp/data r,\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, stderr, err := runEnforce(t, p, &writingGate{file: local, content: "capability sys_admin,\n"}, "myapp")
			if got := exitCode(err); got != ExitFound || !strings.Contains(stderr, local+" changed since the simulate gate checked it") {
				t.Fatalf("exit %d (%v), stderr %q; want a refusal naming %s (exit %d)", got, err, stderr, local, ExitFound)
			}
			if b, _ := os.ReadFile(file); string(b) != profile {
				t.Errorf("profile after the refusal (mode switched?):\n%s", b)
			}
		})
	}
}
