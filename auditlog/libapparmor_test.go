package auditlog

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corpus "github.com/armorer-dev/armorer/internal/auditlogcorpus"
	"github.com/armorer-dev/armorer/internal/testenv"
)

// buildHarness compiles bench/auditlog_harness.c against libapparmor. Outside
// CI a missing gcc or libapparmor-dev skips; with CI set it fails.
func buildHarness(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "auditlog_harness")
	out, err := exec.Command("gcc", "-O2", "-o", bin, "../bench/auditlog_harness.c", "-lapparmor").CombinedOutput()
	if err != nil {
		testenv.Missing(t, "cannot build the libapparmor harness (needs gcc and libapparmor-dev): %v\n%s", err, out)
	}
	return bin
}

// libapparmor's protocol names for the numbers the kernel writes.
var protocolNames = map[string]string{"0": "ip", "1": "icmp", "2": "igmp", "6": "tcp", "17": "udp", "41": "ipv6", "58": "ipv6-icmp", "132": "sctp", "136": "udplite", "255": "raw", "262": "mptcp"}

// armorerField returns what armorer reports for the field libapparmor calls
// key, mapped to libapparmor's representation.
func armorerField(ev *Event, key string) (string, bool) {
	str := func(k Key) (string, bool) { return string(ev.Value(k)), ev.Has(k) }
	switch key {
	case "apparmor":
		return str(KeyApparmor)
	case "epoch":
		return strconv.FormatInt(ev.Time.Sec, 10), !ev.Time.IsZero()
	case "serial":
		return strconv.FormatUint(ev.Serial, 10), ev.Serial != 0
	case "error":
		v, ok := str(KeyError)
		return strings.TrimPrefix(v, "-"), ok // libapparmor keeps the magnitude
	case "profile":
		return string(ev.Label()), ev.Label() != nil
	case "name":
		if ev.Has(KeyCapname) { // libapparmor puts capname in name
			return str(KeyCapname)
		}
		return str(KeyName)
	case "name2":
		if ev.Has(KeyName2) {
			return str(KeyName2)
		}
		return str(KeyTarget)
	case "denied_mask":
		if !ev.Has(KeyDeniedMask) { // dbus events: libapparmor reports mask= as the denied mask
			return str(KeyMask)
		}
		return str(KeyDeniedMask)
	case "comm":
		if !ev.Has(KeyComm) { // USER_AVC: libapparmor reports exe= as comm
			return str(KeyExe)
		}
		return str(KeyComm)
	case "peer_profile":
		return str(KeyPeerLabel)
	case "protocol":
		v, ok := str(KeyProtocol)
		if n, known := protocolNames[v]; known {
			v = n
		}
		return v, ok
	}
	for k := KeyApparmor; k < numKeys; k++ {
		if k.String() == key {
			return str(k)
		}
	}
	return "", false
}

// On every line libapparmor 3.0.8 accepts, each field it reports must equal
// armorer's, and armorer must see an event there too.
func TestDifferentialLibapparmor(t *testing.T) {
	bin := buildHarness(t)
	dir := t.TempDir()
	gen := filepath.Join(dir, "corpus.log")
	f, err := os.Create(gen)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := corpus.Write(f, 20000, 7); err != nil {
		t.Fatal(err)
	}
	f.Close()
	inputs := append(goldenInputs(t), gen)
	accepted := 0
	for _, in := range inputs {
		out, err := exec.Command(bin, "fields", in).Output()
		if err != nil {
			t.Fatalf("%s: harness: %v", in, err)
		}
		src, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(src, []byte("\n"))
		p := NewParser()
		var ev Event
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			cols := strings.Split(sc.Text(), "\t")
			n, _ := strconv.Atoi(cols[0])
			if len(cols) == 2 && cols[1] == "-" {
				continue
			}
			accepted++
			line := lines[n-1]
			if err := p.Parse(line, &ev); err != nil || (ev.Kind != KindEvent && ev.Kind != KindRejected) {
				t.Errorf("%s:%d: libapparmor reads an event, armorer: kind %v, %v\n%s", in, n, ev.Kind, err, line)
				continue
			}
			for _, kv := range cols[1:] {
				k, want, _ := strings.Cut(kv, "=")
				want = strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\\`, `\`).Replace(want)
				got, ok := armorerField(&ev, k)
				if !ok || got != want {
					t.Errorf("%s:%d: %s: libapparmor %q, armorer %q (present %v)\n%s", in, n, k, want, got, ok, line)
				}
			}
		}
	}
	if accepted < 5000 {
		t.Errorf("libapparmor accepted only %d lines; the comparison covers too little", accepted)
	}
	t.Logf("%d lines compared field by field", accepted)
}
