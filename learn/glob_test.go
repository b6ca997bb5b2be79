package learn

import (
	"testing"

	"github.com/armorer-dev/armorer/policy/aare"
)

func TestGeneralise(t *testing.T) {
	tests := []struct {
		path  string
		perms aare.Perm
		want  string
		home  bool // ownable: owner applies when owned
	}{
		{"/proc/1234/stat", aare.PermRead, "@{PROC}/@{pid}/stat", true},
		{"/proc/1234/task/1240/comm", aare.PermRead, "@{PROC}/@{pid}/task/@{tid}/comm", true},
		{"/proc/self/stat", aare.PermRead, "/proc/self/stat", false},
		{"/proc/sys/net/core/somaxconn", aare.PermRead, "/proc/sys/net/core/somaxconn", false},
		{"/proc/1234/fd/17", aare.PermRead, "@{PROC}/@{pid}/fd/[0-9]*", true},
		{"/home/alice/.config/myapp/settings.json", aare.PermRead, "@{HOME}/.config/myapp/settings.json", true},
		{"/home/alice/", aare.PermRead, "@{HOME}/", true},
		{"/home/", aare.PermRead, "/home/", false},
		{"/dev/pts/3", aare.PermRead | aare.PermWrite, "/dev/pts/[0-9]*", false},
		{"/var/lib/myapp/cache/5f3a9c1e7b2d", aare.PermRead, "/var/lib/myapp/cache/[0-9a-f]*", false},
		{"/var/lib/myapp/facade", aare.PermRead, "/var/lib/myapp/facade", false},
		{"/var/lib/myapp/sessions/0b9e5c2a-1d4f-4e8a-9c3b-7f6e5d4c3b2a.json", aare.PermRead, "/var/lib/myapp/sessions/0b9e5c2a-1d4f-4e8a-9c3b-7f6e5d4c3b2a.json", false},
		{"/var/lib/myapp/sessions/0b9e5c2a-1d4f-4e8a-9c3b-7f6e5d4c3b2a", aare.PermRead, "/var/lib/myapp/sessions/[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*", false},
		{"/var/log/myapp/access.log.3", aare.PermWrite, "/var/log/myapp/access.log.[0-9]*", false},
		{"/var/log/myapp/app-20261125.log", aare.PermWrite, "/var/log/myapp/app-[0-9]*.log", false},
		{"/tmp/myapp-a8Xk2Q", aare.PermRead | aare.PermWrite, "/tmp/myapp-??????", true},
		{"/tmp/tmpa8Xk2Q", aare.PermRead | aare.PermWrite, "/tmp/tmp??????", true},
		{"/tmp/myapp-upload.json", aare.PermRead | aare.PermWrite, "/tmp/myapp-upload.json", true},
		{"/var/lib/myapp/tmp/upload.Zx81qP", aare.PermWrite, "/var/lib/myapp/tmp/upload.??????", false},
		{"/var/lib/myapp/upload.Zx81qP", aare.PermWrite, "/var/lib/myapp/upload.Zx81qP", false},
		{"/usr/lib/x86_64-linux-gnu/libssl.so.3", aare.PermRead | aare.PermMmap, "/usr/lib/x86_64-linux-gnu/libssl.so*", false},
		{"/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", aare.PermRead | aare.PermMmap, "/usr/lib/x86_64-linux-gnu/libz.so*", false},
		{"/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", aare.PermWrite, "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", false},
		{"/usr/lib/x86_64-linux-gnu/libfoo.so.1.beta", aare.PermRead, "/usr/lib/x86_64-linux-gnu/libfoo.so.1.beta", false},
		{"/etc/myapp/app.conf", aare.PermRead, "/etc/myapp/app.conf", false},
		{"relative", aare.PermRead, "relative", false},
		{"/srv/we*ird[1]{a,b}?", aare.PermRead, `/srv/we\*ird\[1\]\{a,b\}\?`, false},
		{"/srv/x*/123", aare.PermRead, `/srv/x\*/[0-9]*`, false},
	}
	for _, tt := range tests {
		got, home := generalise(tt.path, tt.perms)
		if got != tt.want || home != tt.home {
			t.Errorf("generalise(%q) = %q, %v; want %q, %v", tt.path, got, home, tt.want, tt.home)
		}
		// Every generalisation still matches the path it came from.
		if !newMatcher(nil).match(got, tt.path) {
			t.Errorf("pattern %q does not match its own path %q", got, tt.path)
		}
	}
}

func TestMatcher(t *testing.T) {
	m := newMatcher(nil)
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/tmp/*", "/tmp/a", true},
		{"/tmp/*", "/tmp/a/b", false},
		{"/tmp/**", "/tmp/a/b", true},
		{"@{PROC}/@{pid}/stat", "/proc/42/stat", true},
		{"@{PROC}/@{pid}/stat", "/proc/self/stat", false},
		{"@{HOME}/.ssh/*", "/home/bob/.ssh/id_rsa", true},
		{"@{HOME}/.ssh/*", "/root/.ssh/id_rsa", true},
		{"@{HOME}/*", "/home/bob/.ssh/id_rsa", false},
		{"@{unknown}/x", "/anything/x", true}, // does not compile: conservative
	}
	for _, tt := range tests {
		if got := m.match(tt.pattern, tt.path); got != tt.want {
			t.Errorf("match(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

func TestKernelPerms(t *testing.T) {
	tests := map[string]string{
		"r": "r", "w": "w", "rw": "rw", "wc": "w", "c": "w", "d": "w", "a": "a", "wa": "w",
		"m": "m", "rm": "mr", "k": "k", "l": "l", "::r": "r", "r::": "r", "x": "", "N": "",
	}
	for in, want := range tests {
		if got := permString(kernelPerms(in)); got != want {
			t.Errorf("kernelPerms(%q) = %q, want %q", in, got, want)
		}
	}
	if kernelPerms("x")&aare.PermExec == 0 {
		t.Error("x lost")
	}
}
func TestProfileFileName(t *testing.T) {
	for in, want := range map[string]string{
		"/opt/myapp/bin/myapp": "opt.myapp.bin.myapp",
		"/usr/sbin/nginx":      "usr.sbin.nginx",
		"/usr//bin/../bin/x":   "usr.bin.x",
	} {
		if got := ProfileFileName(in); got != want {
			t.Errorf("ProfileFileName(%q) = %q, want %q", in, got, want)
		}
	}
}
