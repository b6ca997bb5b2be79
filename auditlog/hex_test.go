package auditlog

import "testing"

// Every field the kernel writes with audit_log_untrustedstring may come
// hex-encoded, in either case; bare values of other fields never are.
func TestHexFields(t *testing.T) {
	const hexUpper, hexLower = "2F612062", "2f612062" // "/a b"
	p := NewParser()
	var ev Event
	for k := KeyApparmor; k < numKeys; k++ {
		if !keyInfos[k].hex {
			continue
		}
		for _, h := range []string{hexUpper, hexLower} {
			line := `audit: type=1400 audit(1.002:3): apparmor="DENIED" operation="x" ` + k.String() + "=" + h
			if err := p.Parse([]byte(line), &ev); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			if got := string(ev.Value(k)); got != "/a b" {
				t.Errorf("%s=%s decodes to %q", k, h, got)
			}
		}
	}
	// pid=1234 is a number, not the hex of "\x12\x34"; an odd-length or
	// non-hex bare value of a hex field stays as written.
	line := `audit: type=1400 audit(1.002:3): apparmor="DENIED" operation="x" pid=1234 name=ABC profile=unconfined`
	if err := p.Parse([]byte(line), &ev); err != nil {
		t.Fatal(err)
	}
	if n, ok := ev.Int(KeyPID); !ok || n != 1234 {
		t.Errorf("pid = %d, %v", n, ok)
	}
	if got := string(ev.Value(KeyName)); got != "ABC" {
		t.Errorf("name = %q", got)
	}
	if got := ev.String(KeyProfile); got != "unconfined" {
		t.Errorf("profile = %q", got)
	}
}
