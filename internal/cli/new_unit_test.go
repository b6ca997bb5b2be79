package cli

import (
	"slices"
	"testing"
)

func TestSplitExec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "/usr/bin/python3 /opt/app/app.py", want: []string{"/usr/bin/python3", "/opt/app/app.py"}},
		{in: `-/usr/bin/node  "/opt/my app/server.js"	--port 80`, want: []string{"/usr/bin/node", "/opt/my app/server.js", "--port", "80"}},
		{in: `@+!/usr/bin/java -jar '/opt/a b.jar'`, want: []string{"/usr/bin/java", "-jar", "/opt/a b.jar"}},
		{in: `/bin/x a\ b`, want: []string{"/bin/x", "a b"}},
		{in: "", want: nil},
		{in: `/bin/x "open`, err: true},
		{in: "python3 app.py", err: true},
	} {
		got, err := splitExec(tc.in)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("splitExec(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func FuzzSplitExec(f *testing.F) {
	for _, s := range []string{"/usr/bin/python3 app.py", `-/a "b c" 'd'`, `\`, `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := splitExec(s)
		if err == nil && len(words) > 0 && words[0] == "" {
			t.Fatalf("empty program from %q", s)
		}
	})
}
