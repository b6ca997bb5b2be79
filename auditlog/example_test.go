package auditlog_test

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/armorer-dev/armorer/auditlog"
)

// Parse one kernel log line into an Event. A Parser is reused line after
// line; the Event's values alias the line until the next Parse (Clone
// copies what must outlive it).
func ExampleParser_Parse() {
	line := `[ 12.345] audit: type=1400 audit(1764054000.101:201): apparmor="DENIED" operation="open" profile="/usr/bin/cat" name="/etc/shadow" pid=4242 comm="cat" requested_mask="r" denied_mask="r" fsuid=1000 ouid=0`
	p := auditlog.NewParser()
	var ev auditlog.Event
	if err := p.Parse([]byte(line), &ev); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Denied(), ev.String(auditlog.KeyOperation), ev.String(auditlog.KeyProfile), ev.String(auditlog.KeyName))
	fmt.Println(ev.Serial, ev.Time.Time().UTC().Format("2006-01-02T15:04:05.000Z"))
	// Output:
	// true open /usr/bin/cat /etc/shadow
	// 201 2025-11-25T07:00:00.101Z
}

// Read a log with a Scanner: a malformed record is an error to count, not
// the end of the stream; other lines parse to KindNone.
func ExampleParser_Parse_stream() {
	log := `Nov 25 07:00:00 host kernel: [ 1.0] audit: type=1400 audit(1764054000.101:201): apparmor="ALLOWED" operation="open" profile="myapp" name="/etc/myapp.conf" pid=1 comm="myapp" requested_mask="r" denied_mask="r" fsuid=0 ouid=0
Nov 25 07:00:01 host sshd[99]: Accepted publickey for alice
Nov 25 07:00:02 host kernel: [ 2.0] audit: type=1400 audit(1764054001.202:202): apparmor="DENIED" operation="capable" profile="myapp" pid=1 comm="myapp" capability=12 capname="net_admin"
`
	p := auditlog.NewParser()
	var ev auditlog.Event
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		if err := p.Parse(sc.Bytes(), &ev); err != nil || ev.Kind != auditlog.KindEvent {
			continue // a malformed record (count it), or another line
		}
		fmt.Println(ev.String(auditlog.KeyApparmor), ev.String(auditlog.KeyOperation), ev.String(auditlog.KeyProfile))
	}
	// Output:
	// ALLOWED open myapp
	// DENIED capable myapp
}
