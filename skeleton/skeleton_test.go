package skeleton

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/internal/oracle"
	"github.com/armorer-dev/armorer/learn"
	"github.com/armorer-dev/armorer/policy"
	"github.com/google/go-cmp/cmp"
)

// printFile prints a built file with the policy printer.
func printFile(t testing.TB, f *policy.File) string {
	t.Helper()
	var b bytes.Buffer
	if err := policy.Format(&b, nil, f); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestSkeletonLayout(t *testing.T) {
	x := &Executable{
		Path:      "/opt/myapp/bin/myapp",
		Loader:    "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
		Libraries: []string{"/opt/myapp/lib/libgreet.so.1.2.3", "/usr/lib/x86_64-linux-gnu/libc.so.6"},
	}
	got := printFile(t, Profile(x, Options{ABI: "3.0", Complain: true}).File())
	want := `abi <abi/3.0>,

include <tunables/global>

profile myapp /opt/myapp/bin/myapp flags=(complain) {
  include <abstractions/base>

  /opt/myapp/bin/myapp mr,
  /opt/myapp/lib/libgreet.so* mr,
  /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so* mr,
  /usr/lib/x86_64-linux-gnu/libc.so* mr,

  include if exists <local/myapp>
}
`
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestSkeletonScript(t *testing.T) {
	x := &Executable{Path: "/opt/tool/run.py", Script: true,
		Interpreters: []string{"/usr/bin/env", "/usr/bin/python3.11"},
		Loader:       "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"}
	got := printFile(t, Profile(x, Options{Name: "tool", ABI: "4.0", Complain: false}).File())
	for _, want := range []string{"abi <abi/4.0>,", "profile tool /opt/tool/run.py {", "  /opt/tool/run.py r,",
		"  /usr/bin/env mrix,", "  /usr/bin/python3.11 mrix,", "include if exists <local/tool>"} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

// Every skeleton for a real program on this machine compiles with the real
// apparmor_parser.
func TestSkeletonOracle(t *testing.T) {
	parser := oracle.Require(t, "3.0")
	for _, bin := range []string{"/bin/ls", "/usr/bin/ssh", "/usr/bin/python3", "/usr/bin/apt-listchanges"} {
		if _, err := os.Stat(bin); err != nil {
			continue
		}
		x, err := Inspect(bin, InspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, abi := range []string{"3.0"} {
			text := printFile(t, Profile(x, Options{ABI: abi, Complain: true}).File())
			oracleAccepts(t, parser, text)
			base, err := learn.AbstractionCoverage(host.OpenProfileSet(bundled), "abstractions/base")
			if err != nil {
				t.Fatal(err)
			}
			short := printFile(t, Profile(x, Options{Name: "", ABI: abi, Complain: true, Base: base}).File())
			oracleAccepts(t, parser, short)
			if strings.Contains(short, "libc.so") || len(short) >= len(text) {
				t.Errorf("base covers libc, but the skeleton lists it:\n%s", short)
			}
		}
	}
}

// oracleAccepts runs apparmor_parser -QK on a profile text.
func oracleAccepts(t *testing.T, parser *oracle.Parser, text string) {
	t.Helper()
	ok, stderr, err := parser.Validate(context.Background(), []byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Errorf("apparmor_parser %s rejects:\n%s\n%s", parser.Version, text, stderr)
	}
}

var bundled, _ = filepath.Abs("../examples/myapp/apparmor.d")

// A script's interpreter brings its abstraction, as aa-autodep chooses
// it, when the include path has it.
func TestSkeletonInterpreterAbstraction(t *testing.T) {
	for interp, want := range map[string]string{
		"/usr/bin/python3.11": "abstractions/python", "/usr/bin/python2.7": "abstractions/python", "/usr/bin/python": "abstractions/python",
		"/usr/bin/perl": "abstractions/perl", "/usr/bin/perl5.36.0": "abstractions/perl",
		"/usr/bin/ruby3.1": "abstractions/ruby", "/usr/bin/bash": "abstractions/bash", "/usr/bin/dash": "abstractions/bash",
		"/bin/sh": "abstractions/bash", "/usr/bin/php8.2": "abstractions/php",
		"/usr/bin/node": "", "/usr/bin/zsh": "", "/usr/bin/python3-config": "", "/usr/bin/perldoc": "",
	} {
		if got := InterpreterAbstraction(interp); got != want {
			t.Errorf("InterpreterAbstraction(%s) = %q, want %q", interp, got, want)
		}
	}
	x := &Executable{Path: "/opt/tool/run.py", Script: true, Interpreters: []string{"/usr/bin/env", "/usr/bin/python3.11"}}
	got := printFile(t, Profile(x, Options{Name: "tool"}).File())
	if !strings.Contains(got, "  include <abstractions/python>\n") || !strings.Contains(got, "the script runs python3.11") {
		t.Errorf("no abstractions/python, or no reason, in:\n%s", got)
	}
	none := printFile(t, Profile(x, Options{Name: "tool", HasAbstraction: func(string) bool { return false }}).File())
	if strings.Contains(none, "abstractions/python") {
		t.Errorf("abstractions/python included though the include path has none:\n%s", none)
	}
	elf := printFile(t, Profile(&Executable{Path: "/usr/bin/python3.11"}, Options{}).File())
	if strings.Contains(elf, "abstractions/python") {
		t.Errorf("an ELF program got its own name's abstraction:\n%s", elf)
	}
}
