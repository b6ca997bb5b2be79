package source

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestOpenSpecErrors(t *testing.T) {
	tests := []struct {
		spec string
		msg  string // the error says this
	}{
		{"", "empty source"},
		{"-", "stdin (-) is not available"},
		{"kmsgx:", `unknown source scheme "kmsgx:"`},
		{"syslog:/var/log/syslog", "use a file path, - for stdin, or one of kmsg:"},
		{"kmsg:/dev/kmsg", "kmsg: takes no argument"},
		{"netlink:x", "netlink: takes no argument"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			src, err := OpenSource(tt.spec, SourceOptions{})
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("OpenSource(%q) = %v, %v; want *SpecError", tt.spec, src, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

func TestSplitScheme(t *testing.T) {
	tests := []struct {
		spec, scheme, arg string
		ok                bool
	}{
		{"kmsg:", "kmsg", "", true},
		{"journal:/var/log/journal", "journal", "/var/log/journal", true},
		{"auditd:", "auditd", "", true},
		{"k8s:ns/web", "k8s", "ns/web", true},
		{"8s:x", "", "", false},
		{"/var/log/a:b", "", "", false},
		{"./x:y", "", "", false},
		{"C:x", "", "", false},
		{":x", "", "", false},
		{"log", "", "", false},
	}
	for _, tt := range tests {
		s, a, ok := splitScheme(tt.spec)
		if s != tt.scheme || a != tt.arg || ok != tt.ok {
			t.Errorf("splitScheme(%q) = %q, %q, %v; want %q, %q, %v", tt.spec, s, a, ok, tt.scheme, tt.arg, tt.ok)
		}
	}
}

// Records carved from one slab never overlap, survive later sends, and a
// dropped record's space is reused.
func TestSenderSlab(t *testing.T) {
	var c counters
	out := make(chan Record, 1000)
	s := newSender(&c, out, "x", FullWait, false)
	buf := []byte("aaaa")
	for i := range 1000 {
		buf[0] = byte('a' + i%26)
		if err := s.send(context.Background(), buf, Position{Line: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 1000 {
		r := <-out
		if want := string(rune('a'+i%26)) + "aaa"; string(r.Data) != want || cap(r.Data) != len(r.Data) {
			t.Fatalf("record %d = %q (cap %d), want %q", i, r.Data, cap(r.Data), want)
		}
	}

	full := make(chan Record) // unbuffered, nobody reading: always full
	s = newSender(&c, full, "x", FullDefault, true)
	s.send(context.Background(), []byte("abc"), Position{})
	if len(s.slab) != 0 {
		t.Errorf("dropped record still holds %d slab bytes", len(s.slab))
	}
	big := bytes.Repeat([]byte("x"), slabSize)
	if got := s.copyOf(big); !bytes.Equal(got, big) {
		t.Error("big record copied wrongly")
	}
}

func TestWhenFullPolicy(t *testing.T) {
	tests := []struct {
		policy WhenFull
		kernel bool
		drop   bool
	}{
		{FullDefault, true, true},
		{FullDefault, false, false},
		{FullDrop, false, true},
		{FullWait, true, false},
	}
	for _, tt := range tests {
		if s := newSender(&counters{}, nil, "", tt.policy, tt.kernel); s.drop != tt.drop {
			t.Errorf("policy %d kernel %v: drop = %v, want %v", tt.policy, tt.kernel, s.drop, tt.drop)
		}
	}
}
