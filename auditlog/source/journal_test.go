package source

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// These tests build real journal files with systemd-journal-remote (Debian
// package systemd-journal-remote) from journal export text, and read them
// through the journal source, which runs the real journalctl.

func needJournal(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("journalctl"); err != nil {
		needReal(t, "journalctl not found: %v", err)
	}
	for _, p := range []string{"/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	needReal(t, "systemd-journal-remote not found (Debian package systemd-journal-remote)")
	return ""
}

// entry is one journal entry; a value with a newline or a non-UTF-8 byte
// is written in the export format's binary form.
type entry map[string]string

var testBootID = "0123456789abcdef0123456789abcdef"

// exportText renders entries in the journal export format, with
// increasing timestamps starting at n.
func exportText(n int, entries ...entry) []byte {
	var b bytes.Buffer
	for i, e := range entries {
		fmt.Fprintf(&b, "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=%s\n",
			1764054000000000+int64(n+i)*1000000, 1000000+int64(n+i)*1000000, testBootID)
		for _, k := range slices.Sorted(maps.Keys(e)) {
			v := e[k]
			if strings.ContainsAny(v, "\n\xff") {
				b.WriteString(k + "\n")
				binary.Write(&b, binary.LittleEndian, uint64(len(v)))
				b.WriteString(v + "\n")
				continue
			}
			b.WriteString(k + "=" + v + "\n")
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// writeJournal appends entries to the journal file path.
func writeJournal(t *testing.T, remote, path string, export []byte) {
	t.Helper()
	cmd := exec.Command(remote, "-o", path, "-")
	cmd.Stdin = bytes.NewReader(export)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, out)
	}
}

const (
	kernelAVC = `audit: type=1400 audit(1764054000.000:10): apparmor="DENIED" operation="open" profile="p" name="/etc/shadow" pid=1 comm="cat" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`
	auditAVC  = `AVC apparmor="DENIED" operation="exec" profile="p" name="/bin/sh" pid=2 comm="x" requested_mask="x" denied_mask="x" fsuid=0 ouid=0`
)

var testEntries = []entry{
	{"_TRANSPORT": "kernel", "SYSLOG_IDENTIFIER": "kernel", "PRIORITY": "5", "MESSAGE": kernelAVC},
	{"_TRANSPORT": "syslog", "SYSLOG_IDENTIFIER": "cron", "MESSAGE": "noise, filtered out"},
	{"_TRANSPORT": "audit", "SYSLOG_IDENTIFIER": "audit", "_AUDIT_TYPE": "1400", "_AUDIT_TYPE_NAME": "AVC", "_AUDIT_ID": "11", "MESSAGE": auditAVC},
	{"_TRANSPORT": "kernel", "SYSLOG_IDENTIFIER": "kernel", "MESSAGE": "EXT4-fs (vda): mounted filesystem"},
	{"_TRANSPORT": "kernel", "SYSLOG_IDENTIFIER": "kernel", "MESSAGE": "binary\nmessage \xff"},
}

// journalMessage decodes one delivered JSON line and checks its cursor.
func journalMessage(t *testing.T, r Record) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Data, &m); err != nil {
		t.Fatalf("record %q is not one JSON object: %v", r.Data, err)
	}
	if c, _ := m["__CURSOR"].(string); c == "" || c != r.Pos.Cursor {
		t.Fatalf("Pos.Cursor %q, entry's __CURSOR %q", r.Pos.Cursor, c)
	}
	return m["MESSAGE"]
}

// binaryMessage is how journalctl -o json writes a non-UTF-8 MESSAGE.
func binaryMessage(s string) []any {
	var a []any
	for _, c := range []byte(s) {
		a = append(a, float64(c))
	}
	return a
}

func TestJournalRead(t *testing.T) {
	remote := needJournal(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "x.journal")
	writeJournal(t, remote, path, exportText(0, testEntries...))
	want := []any{kernelAVC, auditAVC, "EXT4-fs (vda): mounted filesystem", binaryMessage("binary\nmessage \xff")}

	for _, spec := range []string{"journal:" + path, "journal:" + dir} {
		t.Run(spec, func(t *testing.T) {
			src, err := OpenSource(spec, SourceOptions{})
			if err != nil {
				t.Fatal(err)
			}
			recs := runAll(t, src)
			var msgs []any
			for i, r := range recs {
				msgs = append(msgs, journalMessage(t, r))
				if r.Pos.Line != int64(i+1) || r.Source != spec {
					t.Errorf("record %d: position %+v source %q", i, r.Pos, r.Source)
				}
			}
			if diff := cmp.Diff(want, msgs); diff != "" {
				t.Fatalf("messages (-want +got):\n%s", diff)
			}

			// Resume after the second entry's cursor.
			src, err = OpenSource(spec, SourceOptions{Resume: &recs[1].Pos})
			if err != nil {
				t.Fatal(err)
			}
			var rest []any
			for _, r := range runAll(t, src) {
				rest = append(rest, journalMessage(t, r))
			}
			if diff := cmp.Diff(want[2:], rest); diff != "" {
				t.Errorf("after cursor (-want +got):\n%s", diff)
			}
		})
	}
}

// Follow: journalctl -f sees entries appended to the file; FromEnd skips
// the old ones; cancelling stops journalctl.
func TestJournalFollow(t *testing.T) {
	remote := needJournal(t)
	path := filepath.Join(t.TempDir(), "x.journal")
	writeJournal(t, remote, path, exportText(0, testEntries[:3]...))

	all, err := OpenSource("journal:"+path, SourceOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	fromEnd, err := OpenSource("journal:"+path, SourceOptions{Follow: true, FromEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	ra, re := start(t, all, 64), start(t, fromEnd, 64)
	first := ra.next()
	for i, want := range []string{kernelAVC, auditAVC} {
		rec := first
		if i > 0 {
			rec = ra.next()
		}
		if got := journalMessage(t, rec); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	// Follow from a cursor: journalctl -f --after-cursor.
	resumed, err := OpenSource("journal:"+path, SourceOptions{Follow: true, Resume: &first.Pos})
	if err != nil {
		t.Fatal(err)
	}
	rr := start(t, resumed, 64)
	if got := journalMessage(t, rr.next()); got != auditAVC {
		t.Fatalf("after cursor: got %q, want the second entry", got)
	}

	writeJournal(t, remote, path, exportText(10, entry{"_TRANSPORT": "kernel", "MESSAGE": "appended"}))
	for _, r := range []*running{ra, re, rr} {
		if got := journalMessage(t, r.next()); got != "appended" {
			t.Fatalf("got %q, want the appended entry", got)
		}
	}
	if n := journalctlsReading(path); n != 3 {
		t.Errorf("%d journalctl processes read %s, want 3", n, path)
	}
	for _, r := range []*running{ra, re, rr} {
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Errorf("Run after cancel = %v, want context.Canceled", err)
		}
	}
	// Run has waited for journalctl: none is left.
	if n := journalctlsReading(path); n != 0 {
		t.Errorf("%d journalctl processes still read %s after cancel", n, path)
	}
}

// journalctlsReading counts the running processes whose command line
// names path.
func journalctlsReading(path string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	n := 0
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err == nil && bytes.Contains(cmdline, []byte("--file="+path+"\x00")) {
			n++
		}
	}
	return n
}

func TestJournalErrors(t *testing.T) {
	needJournal(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.journal")
	writeFile(t, bad, "not a journal\n")

	_, err := OpenSource("journal:"+filepath.Join(dir, "missing"), SourceOptions{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing journal: %v, want ErrNotExist", err)
	}

	src, err := OpenSource("journal:"+bad, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = src.Run(context.Background(), make(chan Record, 1))
	var ue *UnavailableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "Failed to open files") {
		t.Errorf("bad journal: Run = %v, want journalctl's own message", err)
	}

	// No system journal at all: journalctl would print nothing and succeed.
	saved := journalDirs
	defer func() { journalDirs = saved }()
	journalDirs = []string{filepath.Join(dir, "run"), filepath.Join(dir, "var")}
	_, err = OpenSource("journal:", SourceOptions{})
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "systemd-journald") {
		t.Errorf("no system journal: %v, want *UnavailableError asking about systemd-journald", err)
	}
	os.MkdirAll(filepath.Join(dir, "var", testBootID), 0o755)
	writeFile(t, filepath.Join(dir, "var", testBootID, "system.journal"), "")
	if src, err := OpenSource("journal:", SourceOptions{}); err != nil {
		t.Errorf("with a system journal file: %v", err)
	} else {
		src.Close()
	}

	t.Setenv("PATH", dir)
	_, err = OpenSource("journal:", SourceOptions{})
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "install it") {
		t.Errorf("no journalctl: %v, want *UnavailableError saying to install it", err)
	}
}

func TestJournalCursor(t *testing.T) {
	tests := []struct{ line, want string }{
		{`{"__CURSOR":"s=1;i=2","MESSAGE":"x"}`, "s=1;i=2"},
		{`{"MESSAGE":"x","__CURSOR":"c"}`, "c"},
		{`{"MESSAGE":"x"}`, ""},
		{`{"__CURSOR":"unterminated`, ""},
		{`{"__CURSOR":"a\"b"}`, ""},
	}
	for _, tt := range tests {
		if got := journalCursor([]byte(tt.line)); got != tt.want {
			t.Errorf("journalCursor(%s) = %q, want %q", tt.line, got, tt.want)
		}
	}
}
