package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseLabel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		name string
		mode Mode
		bad  bool
	}{
		{in: "unconfined", name: "unconfined", mode: Unconfined},
		{in: "unconfined\n", name: "unconfined", mode: Unconfined},
		{in: "myapp (enforce)\n", name: "myapp", mode: Enforce},
		{in: "/usr/sbin/nscd (complain)\x00", name: "/usr/sbin/nscd", mode: Complain},
		{in: "a profile (with) space (kill)", name: "a profile (with) space", mode: Kill},
		{in: "a//&b (mixed)", name: "a//&b", mode: Mixed},
		{in: "myapp", bad: true},
		{in: "(enforce)", bad: true},
		{in: "", bad: true},
	} {
		name, mode, err := ParseLabel(tc.in)
		if (err != nil) != tc.bad || name != tc.name || mode != tc.mode {
			t.Errorf("ParseLabel(%q) = %q, %q, %v; want %q, %q, bad=%v", tc.in, name, mode, err, tc.name, tc.mode, tc.bad)
		}
	}
}

func TestLoadedProfiles(t *testing.T) {
	h := New(fixture(t, "full"), nil)
	ps, err := h.LoadedProfiles()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, fmt.Sprintf("%s %s %s", p.Name, p.Mode, p.Attach))
	}
	want := []string{
		"/usr/sbin/nscd complain ",
		"ask prompt ",
		"myapp enforce /opt/myapp/bin/myapp",
		"myapp//child enforce ",
		"nvidia_modprobe enforce ", // the kernel prints the name when there is no attachment
		"nvidia_modprobe//kmod enforce ",
		"old kill ",
		"unconf unconfined ",
	}
	if !slices.Equal(got, want) {
		t.Errorf("profiles:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadedProfilesBadLine(t *testing.T) {
	h := New(fixture(t, "badprofiles"), nil)
	_, err := h.LoadedProfiles()
	if err == nil || !strings.Contains(err.Error(), "apparmor/profiles:2: ") || !strings.Contains(err.Error(), `"garbage line"`) {
		t.Errorf("err = %v, want file:2 naming the bad line", err)
	}
}

func TestProcesses(t *testing.T) {
	h := New(fixture(t, "full"), nil)
	procs, err := h.Processes()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range procs {
		got = append(got, fmt.Sprintf("%d %s %s %s %s", p.PID, p.Comm, p.Exe, p.Profile, p.Mode))
	}
	want := []string{
		"2 kthreadd  unconfined unconfined",
		"100 myapp /opt/myapp/bin/myapp myapp enforce",
		"101 nscd /usr/sbin/nscd /usr/sbin/nscd complain", // from attr/current: no attr/apparmor on this kernel
		"102 myapp /opt/myapp/bin/myapp unconfined unconfined",
		"103 nscd /usr/sbin/nscd unconfined unconfined",
		"104 bash /usr/bin/bash unconfined unconfined",
		"105 helper /opt/myapp/bin/helper myapp//child enforce",
	}
	if !slices.Equal(got, want) {
		t.Errorf("processes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestStatus(t *testing.T) {
	h := New(fixture(t, "full"), nil)
	st, err := h.Status(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	by := st.ByMode()
	if !slices.Equal(by[Enforce], []string{"myapp", "myapp//child", "nvidia_modprobe", "nvidia_modprobe//kmod"}) ||
		!slices.Equal(by[Complain], []string{"/usr/sbin/nscd"}) || !slices.Equal(by[Kill], []string{"old"}) ||
		!slices.Equal(by[Prompt], []string{"ask"}) || !slices.Equal(by[Unconfined], []string{"unconf"}) {
		t.Errorf("by mode = %v", by)
	}
	var confined []int
	for _, p := range st.Processes {
		confined = append(confined, p.PID)
	}
	if !slices.Equal(confined, []int{100, 101, 105}) {
		t.Errorf("confined PIDs = %v, want [100 101 105]", confined)
	}
	var unconf []string
	for _, p := range st.Unconfined {
		unconf = append(unconf, fmt.Sprintf("%d %s", p.PID, p.ShouldBe))
	}
	// 102 by the kernel's attach file, 103 by a profile named by its path;
	// 104 has no profile and 2 has no executable.
	if !slices.Equal(unconf, []string{"102 myapp", "103 /usr/sbin/nscd"}) {
		t.Errorf("unconfined but should be = %v", unconf)
	}
	if got := Confining(st.Processes, "myapp"); len(got) != 2 {
		t.Errorf("Confining(myapp) = %v, want 100 and its child 105", got)
	}
}

func TestStatusWithoutAppArmor(t *testing.T) {
	for _, fx := range []string{"noapparmor", "disabled", "nosecurityfs"} {
		_, err := New(fixture(t, fx), nil).Status(context.Background(), nil)
		var ue *UnavailableError
		if !errors.As(err, &ue) || len(ue.Problems) == 0 {
			t.Errorf("%s: err = %v, want *UnavailableError with problems", fx, err)
		}
	}
}

func TestExactMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, path    string
		matched, decided bool
	}{
		{"/opt/myapp/bin/myapp", "/opt/myapp/bin/myapp", true, true},
		{"/opt/myapp/bin/myapp", "/opt/myapp/bin/other", false, true},
		{"/opt/myapp/bin/*", "/opt/myapp/bin/myapp", false, false},
		{"/usr/bin/{a,b}", "/usr/bin/a", false, false},
	} {
		m, d := ExactMatch(tc.pattern, tc.path)
		if m != tc.matched || d != tc.decided {
			t.Errorf("ExactMatch(%q, %q) = %v, %v", tc.pattern, tc.path, m, d)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, path    string
		matched, decided bool
	}{
		{"/opt/myapp/bin/myapp", "/opt/myapp/bin/myapp", true, true},
		{"/opt/myapp/bin/*", "/opt/myapp/bin/myapp", true, true},
		{"/opt/myapp/bin/*", "/opt/myapp/bin/sub/myapp", false, true},
		{"/opt/**", "/opt/myapp/bin/myapp", true, true},
		{"/usr/bin/{a,b}", "/usr/bin/b", true, true},
		{"/usr/bin/{a,b}", "/usr/bin/c", false, true},
		{"/usr/bin/@{undefined}", "/usr/bin/x", false, false},
		{"/usr/bin/[", "/usr/bin/x", false, false},
	} {
		m, d := GlobMatch(tc.pattern, tc.path)
		if m != tc.matched || d != tc.decided {
			t.Errorf("GlobMatch(%q, %q) = %v, %v; want %v, %v", tc.pattern, tc.path, m, d, tc.matched, tc.decided)
		}
	}
}

// A glob attachment (from the kernel's attach file) finds a process that
// started before its profile was loaded.
func TestStatusGlobAttachment(t *testing.T) {
	p := fixture(t, "full")
	os.WriteFile(filepath.Join(p.SecurityFS, "apparmor", "policy", "profiles", "myapp.3", "attach"), []byte("/opt/myapp/bin/*\n"), 0o644)
	st, err := New(p, nil).Status(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range st.Unconfined {
		got = append(got, fmt.Sprintf("%d %s", u.PID, u.ShouldBe))
	}
	if !slices.Equal(got, []string{"102 myapp", "103 /usr/sbin/nscd"}) {
		t.Errorf("unconfined = %v", got)
	}
	// With exact matching the glob decides nothing.
	st, _ = New(p, nil).Status(context.Background(), ExactMatch)
	if len(st.Unconfined) != 1 {
		t.Errorf("exact: unconfined = %+v, want only 103", st.Unconfined)
	}
}

// Kernels before AppArmor 4 print "<unknown>" as the attachment: the
// profile directory's files tell it instead (skipping files the loader
// skips).
func TestAttachmentFromProfileFiles(t *testing.T) {
	p := fixture(t, "full")
	os.WriteFile(filepath.Join(p.SecurityFS, "apparmor", "policy", "profiles", "myapp.3", "attach"), []byte("<unknown>\n"), 0o644)
	os.WriteFile(filepath.Join(p.ProfileDir, "myapp"), []byte("# x\nprofile myapp /opt/myapp/bin/myapp flags=(complain) {\n}\n"), 0o644)
	os.WriteFile(filepath.Join(p.ProfileDir, ".myapp.swp"), []byte("profile old /usr/bin/bash {\n}\n"), 0o644)
	os.WriteFile(filepath.Join(p.ProfileDir, "old.dpkg-old"), []byte("profile old /usr/bin/bash {\n}\n"), 0o644)
	ps, err := New(p, nil).LoadedProfiles()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, lp := range ps {
		got[lp.Name] = lp.Attach
	}
	if got["myapp"] != "/opt/myapp/bin/myapp" || got["old"] != "" {
		t.Errorf("attachments = %q", got)
	}
	st, err := New(p, nil).Status(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Unconfined) != 2 || st.Unconfined[0].PID != 102 || st.Unconfined[0].ShouldBe != "myapp" {
		t.Errorf("unconfined = %+v", st.Unconfined)
	}
}

func TestStatusSystemdAppArmorProfile(t *testing.T) {
	st, err := New(fixture(t, "systemd"), nil).Status(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range st.Unconfined {
		got = append(got, fmt.Sprintf("%d %s %s", u.PID, u.ShouldBe, u.Unit))
	}
	// 200 runs in pyapp.service (cgroup v2), 203 in it by the v1
	// name=systemd hierarchy; 201 is confined; other.service sets no
	// profile; gone.service's profile is not loaded.
	if want := []string{"200 pyapp pyapp.service", "203 pyapp pyapp.service"}; !slices.Equal(got, want) {
		t.Errorf("unconfined = %q, want %q", got, want)
	}
}

func TestUnitProfileOverrides(t *testing.T) {
	p := fixture(t, "systemd")
	etc := p.SystemdDirs[0]
	os.WriteFile(filepath.Join(etc, "pyapp.service.d", "20-reset.conf"), []byte("[Service]\nAppArmorProfile=\n"), 0o644)
	h := New(p, nil)
	if got := h.unitProfile("pyapp.service"); got != "" {
		t.Errorf("after an empty assignment in a later drop-in: %q, want none", got)
	}
	os.WriteFile(filepath.Join(etc, "pyapp.service.d", "30-other.conf"), []byte("[Unit]\nAppArmorProfile=wrongsection\n[Service]\nAppArmorProfile=-pyapp2\n"), 0o644)
	if got := h.unitProfile("pyapp.service"); got != "pyapp2" {
		t.Errorf("unitProfile = %q, want pyapp2", got)
	}
}
