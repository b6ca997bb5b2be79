package auditlog

import (
	"bytes"
	"sync"
	"testing"

	corpus "github.com/armorer-dev/armorer/internal/auditlogcorpus"
)

var benchCorpus = sync.OnceValues(func() ([]byte, int) {
	var b bytes.Buffer
	n, err := corpus.Write(&b, 1_000_000, 1)
	if err != nil {
		panic(err)
	}
	return b.Bytes(), n
})

// BenchmarkReader reads the 1M-line corpus (half AppArmor events, half other
// lines) through a Reader, as armorer events does.
func BenchmarkReader(b *testing.B) {
	data, want := benchCorpus()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(data), ReaderOptions{})
		n := 0
		for r.Next() {
			n++
		}
		if n != want {
			b.Fatalf("read %d events, want %d", n, want)
		}
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkParseLine parses one kernel 6.1 file event.
func BenchmarkParseLine(b *testing.B) { benchParse(b, lineAVC, true) }

// benchParse parses one line over and over. A line that is no AppArmor
// event (isEvent false) makes Parse return an error: that is its answer.
func benchParse(b *testing.B, line string, isEvent bool) {
	l := []byte(line)
	p := NewParser()
	var ev Event
	b.SetBytes(int64(len(l)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Parse(l, &ev); err != nil && isEvent {
			b.Fatal(err)
		}
	}
}

// Lines of the corpus, one kind at a time.

func BenchmarkParseNoiseLine(b *testing.B) {
	benchParse(b, `Nov 25 07:00:12 host dockerd[1234]: time="2026-11-25T07:00:00.000000000Z" level=info msg="ignoring event" container=0123456789abcdef module=libcontainerd namespace=moby topic=/tasks/delete type="*events.TaskDelete"`, false)
}
func BenchmarkParseOtherAuditRecord(b *testing.B) {
	benchParse(b, `type=SYSCALL msg=audit(1764054000.101:201): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7ffd a2=0 a3=0 items=1 ppid=1 pid=4242 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="cat" exe="/usr/bin/cat" key=(null)`, false)
}
func BenchmarkParseSyslogEvent(b *testing.B) {
	benchParse(b, `Nov 25 07:00:01 host kernel: [   12.347000] audit: type=1400 audit(1764054001.003:303): apparmor="DENIED" operation="open" profile="/usr/bin/myapp" name="/var/lib/myapp/data.db" pid=5003 comm="myapp" requested_mask="r" denied_mask="r" fsuid=1000 ouid=0`, true)
}
func BenchmarkParsePrintkOtherRecord(b *testing.B) {
	benchParse(b, `Nov 25 07:00:00 web01 kernel: [56475.041129] audit: type=1300 audit(1732518000.030:581): arch=c000003e syscall=41 success=no exit=-13 a0=21e8ac68 a1=5958eeea163e a2=233 a3=0 items=0 ppid=3028 pid=375790 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=11 comm="app103-io" exe="/opt/app103/bin/app103" key=(null)`, false)
}
func BenchmarkParsePrintkNoiseLine(b *testing.B) {
	benchParse(b, `Nov 25 07:00:00 web01 kernel: [56475.196392] [UFW BLOCK] IN=enp3s0 OUT= MAC=52:54:00:ba:14:b7:fe:ff:ff:ff:ff:ff:08:00 SRC=192.127.52.91 DST=151.208.79.237 LEN=524 TOS=0x00 PREC=0x00 TTL=251 ID=21299 PROTO=TCP SPT=58788 DPT=5353 WINDOW=64240 RES=0x00 SYN URGP=0`, false)
}
