//go:build linux

package cli

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sendUserAVC sends an AUDIT_USER_AVC record on NETLINK_AUDIT, as
// dbus-daemon does, and waits for the kernel's acknowledgement.
func sendUserAVC(text string) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 5}
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	payload := append([]byte(text), 0)
	msg := make([]byte, unix.NLMSG_HDRLEN+len(payload))
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], 1107) // AUDIT_USER_AVC
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	copy(msg[unix.NLMSG_HDRLEN:], payload)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return err
	}
	if n >= unix.NLMSG_HDRLEN+4 && binary.NativeEndian.Uint16(buf[4:]) == unix.NLMSG_ERROR {
		if e := int32(binary.NativeEndian.Uint32(buf[unix.NLMSG_HDRLEN:])); e != 0 {
			return unix.Errno(-e)
		}
	}
	return nil
}

// The kernel delivers one USER_AVC twice when auditd does not run: on the
// audit multicast group (netlink:) and as printk (kmsg:). Read from both at
// once, armorer shows it once and counts the other copy as a duplicate.
func TestEventsNetlinkAndKmsgDedup(t *testing.T) {
	need := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	if _, err := os.Stat("/dev/kmsg"); err != nil {
		need("no /dev/kmsg: %v", err)
	}
	marker := fmt.Sprintf("armorer-events-dedup-%d-%d", os.Getpid(), time.Now().UnixNano())
	io, _, _, _ := TestStreams()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	io.Out, io.ErrOut = out, errOut
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- eventsRun(&eventsOptions{IO: io, Ctx: ctx, Sources: []string{"netlink:", "kmsg:"}, Follow: true, JSON: true, Verbose: true, Profile: marker})
	}()
	time.Sleep(500 * time.Millisecond) // let both sources start
	text := `apparmor="DENIED" operation="dbus_method_call"  bus="system" path="/org/freedesktop/DBus" interface="org.freedesktop.DBus" member="Hello" mask="send" name="org.freedesktop.DBus" pid=1234 label="` + marker + `" peer_label="unconfined"`
	if err := sendUserAVC(text); err != nil {
		cancel()
		<-done
		need("send AUDIT_USER_AVC: %v (needs CAP_AUDIT_WRITE in the initial namespaces)", err)
	}
	waitFor(t, "the event", func() bool { return strings.Contains(out.String(), marker) })

	// Find the printk copy in /dev/kmsg ourselves; without it (auditd
	// running, printk rate limit) there is no duplicate to see.
	m := regexp.MustCompile(`"time":"[^"]*","serial":(\d+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("event without serial: %s", out)
	}
	printk := false
	for deadline := time.Now().Add(5 * time.Second); !printk && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		printk = kmsgContains(t, "audit: type=1107 ", ":"+m[1]+"): ", marker)
	}
	time.Sleep(time.Second) // let our kmsg: follower read it too
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("eventsRun: %v\n%s", err, errOut)
	}
	if n := strings.Count(out.String(), marker); n != 1 {
		t.Errorf("event shown %d times, want once:\n%s", n, out)
	}
	if !printk {
		t.Skipf("no printk copy of the record in /dev/kmsg (auditd running or printk rate limit): nothing to deduplicate")
	}
	if !regexp.MustCompile(` [1-9]\d* duplicates`).MatchString(errOut.String()) {
		t.Errorf("stats %q: want the printk copy counted as a duplicate", errOut)
	}
}

// kmsgContains reads /dev/kmsg from its start and reports whether a record
// contains all of parts.
func kmsgContains(t *testing.T, parts ...string) bool {
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open /dev/kmsg: %v", err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 8192)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EPIPE {
			continue // overwritten while reading: go on with the next
		}
		if err != nil || n <= 0 {
			return false
		}
		rec := string(buf[:n])
		found := true
		for _, p := range parts {
			found = found && strings.Contains(rec, p)
		}
		if found {
			return true
		}
	}
}
