package learn

import "testing"

func TestGeneralise(t *testing.T) {
	tests := []struct {
		path  string
		perms Perms
		want  string
		home  bool // ownable: owner applies when owned
	}{
		{"/proc/1234/stat", PermRead, "@{PROC}/@{pid}/stat", true},
		{"/proc/1234/task/1240/comm", PermRead, "@{PROC}/@{pid}/task/@{tid}/comm", true},
		{"/proc/self/stat", PermRead, "/proc/self/stat", false},
		{"/proc/sys/net/core/somaxconn", PermRead, "/proc/sys/net/core/somaxconn", false},
		{"/proc/1234/fd/17", PermRead, "@{PROC}/@{pid}/fd/[0-9]*", true},
		{"/home/alice/.config/myapp/settings.json", PermRead, "@{HOME}/.config/myapp/settings.json", true},
		{"/home/alice/", PermRead, "@{HOME}/", true},
		{"/home/", PermRead, "/home/", false},
		{"/dev/pts/3", PermRead | PermWrite, "/dev/pts/[0-9]*", false},
		{"/var/lib/myapp/cache/5f3a9c1e7b2d", PermRead, "/var/lib/myapp/cache/[0-9a-f]*", false},
		{"/var/lib/myapp/facade", PermRead, "/var/lib/myapp/facade", false},
		{"/var/lib/myapp/sessions/0b9e5c2a-1d4f-4e8a-9c3b-7f6e5d4c3b2a.json", PermRead, "/var/lib/myapp/sessions/0b9e5c2a-1d4f-4e8a-9c3b-7f6e5d4c3b2a.json", false},
		{"/var/lib/myapp/sessions/0b9e5c2a-1d4f-4e8a-9c3b-7f6e5d4c3b2a", PermRead, "/var/lib/myapp/sessions/[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*", false},
		{"/var/log/myapp/access.log.3", PermWrite, "/var/log/myapp/access.log.[0-9]*", false},
		{"/var/log/myapp/app-20261125.log", PermWrite, "/var/log/myapp/app-[0-9]*.log", false},
		{"/tmp/myapp-a8Xk2Q", PermRead | PermWrite, "/tmp/myapp-??????", true},
		{"/tmp/tmpa8Xk2Q", PermRead | PermWrite, "/tmp/tmp??????", true},
		{"/tmp/myapp-upload.json", PermRead | PermWrite, "/tmp/myapp-upload.json", true},
		{"/var/lib/myapp/tmp/upload.Zx81qP", PermWrite, "/var/lib/myapp/tmp/upload.??????", false},
		{"/var/lib/myapp/upload.Zx81qP", PermWrite, "/var/lib/myapp/upload.Zx81qP", false},
		{"/usr/lib/x86_64-linux-gnu/libssl.so.3", PermRead | PermMap, "/usr/lib/x86_64-linux-gnu/libssl.so*", false},
		{"/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", PermRead | PermMap, "/usr/lib/x86_64-linux-gnu/libz.so*", false},
		{"/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", PermWrite, "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", false},
		{"/usr/lib/x86_64-linux-gnu/libfoo.so.1.beta", PermRead, "/usr/lib/x86_64-linux-gnu/libfoo.so.1.beta", false},
		{"/etc/myapp/app.conf", PermRead, "/etc/myapp/app.conf", false},
		{"relative", PermRead, "relative", false},
		{"/srv/we*ird[1]{a,b}?", PermRead, `/srv/we\*ird\[1\]\{a,b\}\?`, false},
		{"/srv/x*/123", PermRead, `/srv/x\*/[0-9]*`, false},
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

func TestParsePerms(t *testing.T) {
	tests := map[string]string{
		"r": "r", "w": "w", "rw": "rw", "wc": "w", "c": "w", "d": "w", "a": "a", "wa": "w",
		"m": "m", "rm": "mr", "k": "k", "l": "l", "::r": "r", "r::": "r", "x": "", "N": "",
	}
	for in, want := range tests {
		if got := ParsePerms(in).String(); got != want {
			t.Errorf("ParsePerms(%q) = %q, want %q", in, got, want)
		}
	}
	if ParsePerms("x")&PermExec == 0 {
		t.Error("x lost")
	}
}
