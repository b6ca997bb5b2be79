package aare

import "testing"

func TestIntersect(t *testing.T) {
	vars := VarMap(map[string][]string{"HOME": {"/home/*/", "/root/"}})
	for _, tt := range []struct {
		a, b, except string
		want         string
		res          Result
	}{
		{"@{HOME}/.profile", "/root/{,**}", "", "/root/.profile", Yes},
		{"@{HOME}/.profile", "/etc/{,**}", "", "", No},
		{"/home/*/x", "/home/alice/x", "/home/alice/x", "", No},
		{"/home/*/x", "{/home/alice/x,/home/bob/x}", "/home/alice/x", "/home/bob/x", Yes},
		{"/tmp/*", "/tmp/[a-c]", "", "/tmp/a", Yes},
		{"/tmp/**", "/tmp/", "", "", No}, // ** as a whole component needs a byte
	} {
		a, err := Compile(tt.a, vars)
		if err != nil {
			t.Fatal(err)
		}
		b := MustCompile(tt.b)
		var ex *Pattern
		if tt.except != "" {
			ex = MustCompile(tt.except)
		}
		got, res := Intersect(a, b, ex)
		if got != tt.want || res != tt.res {
			t.Errorf("Intersect(%q, %q, %q) = %q, %v; want %q, %v", tt.a, tt.b, tt.except, got, res, tt.want, tt.res)
		}
	}
}

// TestForcedPrefix: the literal text every string of the language starts
// with, which lets Intersect answer No without a product.
func TestForcedPrefix(t *testing.T) {
	for _, tt := range []struct{ pattern, want string }{
		{"/etc/shadow", "/etc/shadow"},
		{"/etc/{shadow,gshadow}", "/etc/"},
		{"/usr/lib/*.so", "/usr/lib/"},
		{"/tmp/[a]x", "/tmp/ax"},
		{"/tmp/[ab]x", "/tmp/"},
		{"/var/{,log/**}", "/var/"}, // /var/ itself is accepted
		{"{/root/,/home/*/}.ssh/**", "/"},
		{"**", ""},
	} {
		if got := MustCompile(tt.pattern).d.lead; got != tt.want {
			t.Errorf("forcedPrefix(%q) = %q, want %q", tt.pattern, got, tt.want)
		}
	}
}
