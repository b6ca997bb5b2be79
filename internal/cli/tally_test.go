package cli

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/auditlog/source"
)

// TestTallyMatchesMap counts random keys (sharing prefixes, around the
// 8-byte sort prefix, with zero bytes, empty) in a tally and a map, through
// several table growths and into batched lookups, and compares the sorted
// lists.
func TestTallyMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	parts := []string{"", "a", "\x00", "/usr/lib/", "/usr/lib", "abcdefgh", "abcdefg", "é", "\xff", "1", "12345678"}
	tl, m := newTally(), map[string]int{}
	for range 100000 {
		k := ""
		for range rng.IntN(4) {
			k += parts[rng.IntN(len(parts))]
		}
		if rng.IntN(3) == 0 {
			k += fmt.Sprint(rng.IntN(50000))
		}
		tl.add([]byte(k))
		m[k]++
	}
	want := make([]countEntry, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		want = append(want, countEntry{Name: k, Count: m[k], quote: !plainText([]byte(k))})
	}
	slices.SortStableFunc(want, func(a, b countEntry) int { return cmp.Compare(b.Count, a.Count) })
	if len(tl.slots) < tallyBatchFrom {
		t.Fatalf("%d slots: the batched lookups were not tested", len(tl.slots))
	}
	if tl.len() != len(m) {
		t.Fatalf("len %d, want %d", tl.len(), len(m))
	}
	if got := tl.sorted(0); !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("entry %d: %+v, want %+v", i, got[i], want[i])
			}
		}
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	if got := tl.sorted(7); !slices.Equal(got, want[:7]) {
		t.Errorf("top 7: %+v, want %+v", got, want[:7])
	}
}

// TestSummaryEventAllocs: counting an event for --summary allocates
// nothing once its keys were seen.
// TestTallyShortKeys: keys of 1 to 17 bytes over two letters, which
// differ only in the bytes that shortKey's words overlap or skip, counted
// in a tally (through its memo of short keys) and a map, small and then
// batched, come out the same.
func TestTallyShortKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tl, m := newTally(), map[string]int{}
	add := func(k string) {
		tl.add([]byte(k))
		m[k]++
	}
	for range 300000 {
		b := make([]byte, 1+rng.IntN(17))
		for i := range b {
			b[i] = "ab"[rng.IntN(2)]
		}
		add(string(b))
		if rng.IntN(4) == 0 {
			add(fmt.Sprint(rng.IntN(100000))) // and enough others to batch
		}
	}
	if len(tl.slots) < tallyBatchFrom {
		t.Fatalf("%d slots: the batched lookups were not tested", len(tl.slots))
	}
	got := tl.sorted(0)
	if len(got) != len(m) {
		t.Fatalf("%d keys, want %d", len(got), len(m))
	}
	for _, e := range got {
		if m[e.Name] != e.Count {
			t.Fatalf("%q counted %d times, want %d", e.Name, e.Count, m[e.Name])
		}
	}
}

func TestSummaryEventAllocs(t *testing.T) {
	lines := []string{
		`audit: type=1400 audit(1700000000.123:42): apparmor="DENIED" operation="open" profile="/usr/bin/app" name="/etc/shadow" pid=1 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`,
		`audit: type=1400 audit(1700000000.123:43): apparmor="ALLOWED" operation="capable" profile="/usr/bin/app" pid=1 comm="app" capability=12 capname="net_admin"`,
		`audit: type=1400 audit(1700000000.123:44): apparmor="DENIED" operation="connect" class="net" profile=2F7573722F62696E2F61707020 pid=1 comm="app" family="inet" sock_type="stream"`,
		`audit: type=1400 audit(1700000000.123:45): apparmor="DENIED" operation="mount" profile="/usr/bin/app" name=2F6D6E74 pid=1 comm="app" fstype="ext4"`,
	}
	io_, _, _, _ := TestStreams()
	o := &eventsOptions{IO: io_, Summary: true}
	sink := newEventSink(o, bufio.NewWriter(io.Discard))
	p := auditlog.NewParser()
	var ev auditlog.Event
	for _, l := range lines {
		if err := p.Parse([]byte(l), &ev); err != nil || ev.Kind != auditlog.KindEvent {
			t.Fatalf("parse %q: %v, kind %v", l, err, ev.Kind)
		}
		if err := sink.event(&ev, "x", 1); err != nil { // first sight: the keys are stored
			t.Fatal(err)
		}
		line := []byte(l)
		if n := testing.AllocsPerRun(100, func() {
			p.Parse(line, &ev) // the hex values are decoded again each time
			sink.event(&ev, "x", 1)
		}); n != 0 {
			t.Errorf("%d allocations per event of %q", int(n), l)
		}
	}
	// Each line counted once, then AllocsPerRun's warm-up run and 100.
	if got := sink.counts[0].sorted(0); len(got) != 2 || got[0] != (countEntry{Name: "/usr/bin/app", Count: 306}) || got[1] != (countEntry{Name: "/usr/bin/app ", Count: 102}) {
		t.Errorf("profiles %+v", got)
	}
	if got := sink.counts[3].sorted(0); len(got) != 2 || got[0] != (countEntry{Name: "/etc/shadow", Count: 102}) || got[1] != (countEntry{Name: "/mnt", Count: 102}) {
		t.Errorf("paths %+v", got)
	}
}

// TestSummaryClasses: classes are counted apart from the other columns,
// the kernel's few and any number of others (more than the 16 counted
// apart), and listed as the other columns are.
func TestSummaryClasses(t *testing.T) {
	io_, _, out, _ := TestStreams()
	o := &eventsOptions{IO: io_, Summary: true, JSON: true}
	sink := newEventSink(o, bufio.NewWriter(io_.Out))
	p := auditlog.NewParser()
	var ev auditlog.Event
	want := map[string]int{}
	for n := range 20 {
		class := fmt.Sprintf("c%02d", n)
		if n%5 == 0 {
			class = []string{"file", "net", "cap", "signal"}[n/5]
		}
		for range n + 1 {
			line := fmt.Sprintf(`audit: type=1400 audit(1700000000.123:%d): apparmor="DENIED" operation="x" class="%s" profile="p"`, 100+n, class)
			if err := p.Parse([]byte(line), &ev); err != nil || ev.Kind != auditlog.KindEvent {
				t.Fatalf("parse %q: %v", line, err)
			}
			if err := sink.event(&ev, "x", 1); err != nil {
				t.Fatal(err)
			}
			want[class]++
		}
	}
	if err := sink.finish(source.Stats{}); err != nil {
		t.Fatal(err)
	}
	var sum struct{ Class []countEntry }
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Class) != len(want) {
		t.Fatalf("%d classes, want %d: %+v", len(sum.Class), len(want), sum.Class)
	}
	for i, e := range sum.Class {
		if want[e.Name] != e.Count || (i > 0 && e.Count > sum.Class[i-1].Count) {
			t.Errorf("class %d: %+v, want count %d, most frequent first", i, e, want[e.Name])
		}
	}
}
