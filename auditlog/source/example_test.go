package source_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/auditlog/source"
)

// Read events from stdin ("-"); a file path, kmsg:, journal: or netlink:
// works the same way, and several SOURCEs are de-duplicated together.
func ExampleOpen() {
	log := `Nov 25 07:00:01 host kernel: audit: type=1400 audit(1764054001.001:301): apparmor="DENIED" operation="open" profile="myapp" name="/etc/shadow" pid=5001 comm="myapp" requested_mask="r" denied_mask="r" fsuid=0 ouid=0
type=AVC msg=audit(1764054001.001:301): apparmor="DENIED" operation="open" profile="myapp" name="/etc/shadow" pid=5001 comm="myapp" requested_mask="r" denied_mask="r" fsuid=0 ouid=0
Nov 25 07:00:02 host alice: audit: type=1400 audit(1764054002.001:302): apparmor="ALLOWED" operation="open" profile="myapp" name="/etc/sudoers" pid=5002 comm="myapp" requested_mask="w" denied_mask="w" fsuid=0 ouid=0
kauditd_printk_skb: 3 callbacks suppressed
`
	p, err := source.Open(context.Background(), []string{"-"}, source.Options{Stdin: strings.NewReader(log)})
	if err != nil {
		fmt.Println(err)
		return
	}
	for ev := range p.Events() {
		fmt.Println(ev.Source, ev.Line(), ev.Outcome(), ev.String(auditlog.KeyProfile), ev.String(auditlog.KeyName))
	}
	if err := p.Err(); err != nil {
		fmt.Println(err)
	}
	st := p.Stats()
	fmt.Printf("%d lines, %d events, %d duplicates, %d rejected, %d lost\n", st.Lines, st.Events, st.Duplicates, st.Rejected, st.Lost)
	// Output:
	// - 1 DENIED myapp /etc/shadow
	// 4 lines, 1 events, 1 duplicates, 1 rejected, 3 lost
}
