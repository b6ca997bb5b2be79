package oracle

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func profile(abi, rule string) []byte {
	return []byte("abi <" + abi + ">,\ninclude <tunables/global>\nprofile t /usr/bin/t {\n  include <abstractions/base>\n  " + rule + "\n}\n")
}

func TestValidate(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		version, rule string
		want          bool
		stderr        string // substring of stderr when rejected
	}{
		{"3.0", "/etc/passwd r,", true, ""},
		{"4.1", "/etc/passwd r,", true, ""},
		{"3.0", "userns,", false, "syntax error"},
		{"4.1", "userns,", true, ""},
		{"3.0", "capability bogus,", false, "Invalid capability bogus"},
		{"4.1", "capability bogus,", false, "Invalid capability bogus"},
		{"3.0", "/a px, /a ix,", false, "conflicting x modifiers"},
		{"4.1", "@{HOME}/x rw,", true, ""},
	} {
		p := Require(t, tc.version)
		ok, stderr, err := p.Validate(ctx, profile(p.ABI, tc.rule), nil)
		if err != nil {
			t.Fatal(err)
		}
		if ok != tc.want {
			t.Errorf("%s %q: accepted=%v, want %v; stderr: %s", p.Version, tc.rule, ok, tc.want, stderr)
		}
		if ok && stderr != "" {
			t.Errorf("%s %q: accepted with stderr %q (noise line not filtered?)", p.Version, tc.rule, stderr)
		}
		if !ok && !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%s %q: stderr %q lacks %q", p.Version, tc.rule, stderr, tc.stderr)
		}
	}
}

// TestIncludeTrees checks that each parser reads its own tree: abi/4.0
// exists only in Debian 13's.
func TestIncludeTrees(t *testing.T) {
	ctx := context.Background()
	p30, p41 := Require(t, "3.0"), Require(t, "4.1")
	if ok, stderr, _ := p30.Validate(ctx, profile("abi/4.0", "/a r,"), nil); ok {
		t.Errorf("3.0 accepted abi/4.0 (wrong include tree?)")
	} else if !strings.Contains(stderr, "abi/4.0") {
		t.Errorf("3.0 stderr %q does not name abi/4.0", stderr)
	}
	if ok, stderr, _ := p41.Validate(ctx, profile("abi/4.0", "/a r,"), nil); !ok {
		t.Errorf("4.1 rejected abi/4.0: %s", stderr)
	}
	if !strings.HasPrefix(p41.Version, "4.1") || !strings.HasPrefix(p30.Version, "3.0") {
		t.Errorf("versions %s, %s", p30.Version, p41.Version)
	}
}

func TestExtraIncludeDir(t *testing.T) {
	ctx := context.Background()
	p := Require(t, "3.0")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "local"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "local", "mine"), []byte("/opt/mine r,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text := profile(p.ABI, "include <local/mine>")
	if ok, stderr, _ := p.Validate(ctx, text, nil); ok {
		t.Errorf("include of a missing file accepted")
	} else if !strings.Contains(stderr, "local/mine") {
		t.Errorf("stderr %q", stderr)
	}
	if ok, stderr, _ := p.Validate(ctx, text, []string{dir}); !ok {
		t.Errorf("include from -I %s rejected: %s", dir, stderr)
	}
}

func TestCompileIgnoresLayout(t *testing.T) {
	ctx := context.Background()
	for _, v := range []string{"3.0", "4.1"} {
		p := Require(t, v)
		a, err := p.Compile(ctx, []byte("abi <"+p.ABI+">,\nprofile t {\n  /a r,\n  /b w,\n}\n"), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := p.Compile(ctx, []byte("abi <"+p.ABI+">,\nprofile t {\n\t\t/b w,   /a    r, }"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s: compiles differ (%d vs %d bytes)", p.Version, len(a), len(b))
		}
		c, err := p.Compile(ctx, []byte("abi <"+p.ABI+">,\nprofile t { /a r, /b r, }"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(a, c) {
			t.Errorf("%s: different policies compile the same", p.Version)
		}
		if _, err := p.Compile(ctx, []byte("profile t { bogus }"), nil); err == nil {
			t.Errorf("%s: Compile of a bad profile succeeded", p.Version)
		}
	}
}

func TestFilterStderr(t *testing.T) {
	in := "Cache read/write disabled: interface file missing. (Kernel needs AppArmor 2.4 compatibility patch.)\nAppArmor parser error: x\n"
	if got := FilterStderr(in); got != "AppArmor parser error: x" {
		t.Errorf("FilterStderr = %q", got)
	}
}

func TestFindUnknownVersion(t *testing.T) {
	if _, err := Find(context.Background(), "2.13"); err == nil {
		t.Error("Find(2.13) succeeded")
	}
}

func TestInstalled(t *testing.T) {
	Require(t, "3.0") // the host parser is the one installed
	p, err := Installed(context.Background(), "/etc/apparmor.d")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.Version, "3.0") || p.ABI != "abi/3.0" {
		t.Errorf("Installed: version %q abi %q", p.Version, p.ABI)
	}
}

// CompileFiles splits one run's output back into files, falls back to one
// file at a time when a file is refused, and kills a hanging parser.
func TestCompileFiles(t *testing.T) {
	for _, version := range []string{"3.0", "4.1"} {
		t.Run(version, func(t *testing.T) { testCompileFiles(t, Require(t, version)) })
	}
}

func testCompileFiles(t *testing.T, p *Parser) {
	ctx := context.Background()
	texts := [][]byte{
		[]byte("profile a { /a r, }\n"),
		[]byte("profile b { /b r, }\nprofile c { /c r, ^hat { /h r, } }\n"), // two profiles, two blobs
		[]byte("@{X}=/x\n"),                                                 // no profile, no blob
		[]byte("profile d { /d r, }\n"),
	}
	// One run over the batch splits into the files (no fallback).
	dir := t.TempDir()
	var files, args []string
	for i, text := range texts {
		f := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(f, text, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		args = append(args, f, p.endMarker)
	}
	ok, out, stderr, err := p.Run(ctx, nil, append([]string{"--jobs=1", "-QK", "-S"}, args...)...)
	if err != nil || !ok {
		t.Fatalf("batch run: ok=%v err=%v: %s", ok, err, stderr)
	}
	if got := splitFiles(out); len(got) != len(texts) {
		t.Fatalf("splitFiles found %d files, want %d", len(got), len(texts))
	}
	got, err := p.CompileFiles(ctx, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		want, err := p.Compile(ctx, text, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !got[i].Accepted() || !bytes.Equal(got[i].Policy, want) {
			t.Errorf("file %d: batch policy (%d bytes, accepted %v) differs from a single compile (%d bytes)", i, len(got[i].Policy), got[i].Accepted(), len(want))
		}
	}

	old := batchTimeout
	batchTimeout = 10 * time.Second
	defer func() { batchTimeout = old }()
	texts = append(texts, []byte("profile e { capability bogus, }\n"))
	if strings.HasPrefix(p.Version, "3.0.") {
		texts = append(texts, []byte("profile f { /{,{,a,},} r, }\n")) // 3.0.8 never finishes this one
	}
	got, err = p.CompileTexts(ctx, texts, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if !got[i].Accepted() {
			t.Errorf("file %d refused: %+v", i, got[i])
		}
	}
	if r := got[4]; r.Accepted() || r.Hung || !strings.Contains(r.Stderr, "Invalid capability bogus") {
		t.Errorf("bogus capability: %+v", r)
	}
	if len(got) > 5 {
		if r := got[5]; r.Accepted() || !r.Hung {
			t.Errorf("looping pattern: %+v (want Hung)", r)
		}
	}
}

// splitFiles refuses output it cannot split exactly (the batch is then
// compiled file by file).
func TestSplitFilesMalformed(t *testing.T) {
	blob := func(name string) string { return string(blobStart) + "\x02\x05\x00\x00\x00" + name }
	marker := blob(string(endMarkerBytes))
	for _, tc := range []struct {
		name, out string
		want      int // files; -1 for nil
	}{
		{"empty", "", 0},
		{"one file", blob("a") + marker, 1},
		{"two profiles, then none", blob("a") + blob("b") + marker + marker, 2},
		{"garbage first", "junk" + blob("a") + marker, -1},
		{"no marker at the end", blob("a") + marker + blob("b"), -1},
	} {
		got := splitFiles([]byte(tc.out))
		if (got == nil && tc.want != -1 && tc.want != 0) || (tc.want == -1 && got != nil) || (tc.want >= 0 && len(got) != tc.want) {
			t.Errorf("%s: %d files (nil %v), want %d", tc.name, len(got), got == nil, tc.want)
		}
	}
	if got := splitFiles([]byte(blob("a") + blob("b") + marker + marker)); string(got[0]) != blob("a")+blob("b") || got[1] == nil || len(got[1]) != 0 {
		t.Errorf("split = %q", got)
	}
}
