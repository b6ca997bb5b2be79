// Package auditlogcorpus generates mixed log files for auditlog's benchmark and
// differential test: half AppArmor events in the kernel 6.1 layout (which
// libapparmor 3.0.8 fully accepts) behind syslog, dmesg and auditd
// prefixes, half other log lines.
package auditlogcorpus

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

var (
	profiles = []string{"/usr/sbin/nginx", "/usr/bin/myapp", "myapp", "postgres", "app//hat", "web//&app", "/usr/lib/x86_64-linux-gnu/helper"}
	comms    = []string{"nginx", "myapp", "postgres", "sh", "python3", "worker"}
	paths    = []string{"/etc/shadow", "/etc/ssl/private/server.key", "/var/lib/myapp/data.db", "/proc/1/environ", "/run/myapp.sock",
		"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/home/alice/.ssh/id_ed25519", "/tmp/upload-12345", "/srv/www/index.html", "/dev/shm/cache"}
	fileOps = []struct{ op, mask string }{{"open", "r"}, {"open", "w"}, {"open", "rw"}, {"mknod", "c"}, {"unlink", "d"}, {"file_mmap", "rm"},
		{"chmod", "w"}, {"truncate", "w"}, {"file_perm", "r"}, {"rename_src", "wrd"}, {"file_lock", "k"}}
	caps = []struct {
		num  int
		name string
	}{{1, "dac_override"}, {12, "net_admin"}, {21, "sys_admin"}, {2, "dac_read_search"}, {10, "net_bind_service"}}
	signals = []string{"term", "kill", "hup", "usr1"}
	nets    = []struct {
		family, sock string
		proto        int
	}{{"inet", "stream", 6}, {"inet6", "dgram", 17}, {"inet", "raw", 1}, {"netlink", "raw", 0}}
	noise = []string{
		`Nov 25 07:00:%02d host sshd[%d]: Accepted publickey for alice from 192.0.2.10 port 51514 ssh2: ED25519 SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEF`,
		`Nov 25 07:00:%02d host systemd[%d]: Started session-42.scope - Session 42 of User alice.`,
		`Nov 25 07:00:%02d host CRON[%d]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)`,
		`Nov 25 07:00:%02d host kernel: [%d.123456] EXT4-fs (sda1): mounted filesystem with ordered data mode. Quota mode: none.`,
		`type=SYSCALL msg=audit(1764054000.%03d:%d): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7ffd a2=0 a3=0 items=1 ppid=1 pid=4242 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="cat" exe="/usr/bin/cat" key=(null)`,
		`type=PATH msg=audit(1764054000.%03d:%d): item=0 name="/etc/shadow" inode=1234 dev=08:01 mode=0100640 ouid=0 ogid=42 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`,
		`Nov 25 07:00:%02d host dockerd[%d]: time="2026-11-25T07:00:00.000000000Z" level=info msg="ignoring event" container=0123456789abcdef module=libcontainerd namespace=moby topic=/tasks/delete type="*events.TaskDelete"`,
	}
)

// Write writes n lines from seed. Every second line on average is an
// AppArmor event; Events returns how many of them there were.
func Write(w io.Writer, n int, seed uint64) (events int, err error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	serial := 1000
	for i := range n {
		serial++
		if r.IntN(2) == 0 {
			fmt.Fprintf(bw, noise[r.IntN(len(noise))], i%60, serial)
			bw.WriteByte('\n')
			continue
		}
		events++
		prefix := ""
		switch r.IntN(3) {
		case 0:
			prefix = fmt.Sprintf("Nov 25 07:00:%02d host kernel: [%6d.%06d] audit: type=1400 ", i%60, i/1000, i%1000000)
		case 1:
			prefix = fmt.Sprintf("[%6d.%06d] audit: type=1400 ", i/1000, i%1000000)
		default:
			prefix = "type=AVC msg="
		}
		fmt.Fprintf(bw, "%saudit(%d.%03d:%d): ", prefix, 1764054000+i/1000, i%1000, serial)
		outcome := "DENIED"
		if r.IntN(3) == 0 {
			outcome = "ALLOWED"
		}
		prof, comm, pid := profiles[r.IntN(len(profiles))], comms[r.IntN(len(comms))], 1000+r.IntN(60000)
		switch k := r.IntN(10); {
		case k < 6:
			op := fileOps[r.IntN(len(fileOps))]
			name := fmt.Sprintf("%q", paths[r.IntN(len(paths))])
			if r.IntN(20) == 0 { // the kernel hex-encodes names with spaces, in upper case
				name = strings.ToUpper(hex.EncodeToString([]byte("/srv/my files/report.txt")))
			}
			fmt.Fprintf(bw, `apparmor="%s" operation="%s" profile="%s" name=%s pid=%d comm="%s" requested_mask="%s" denied_mask="%s" fsuid=%d ouid=0`,
				outcome, op.op, prof, name, pid, comm, op.mask, op.mask, r.IntN(2)*1000)
		case k == 6:
			c := caps[r.IntN(len(caps))]
			fmt.Fprintf(bw, `apparmor="%s" operation="capable" profile="%s" pid=%d comm="%s" capability=%d  capname="%s"`, outcome, prof, pid, comm, c.num, c.name)
		case k == 7:
			nt := nets[r.IntN(len(nets))]
			fmt.Fprintf(bw, `apparmor="%s" operation="create" profile="%s" pid=%d comm="%s" family="%s" sock_type="%s" protocol=%d requested_mask="create" denied_mask="create"`,
				outcome, prof, pid, comm, nt.family, nt.sock, nt.proto)
		case k == 8:
			fmt.Fprintf(bw, `apparmor="%s" operation="signal" profile="%s" pid=%d comm="%s" requested_mask="send" denied_mask="send" signal=%s peer="unconfined"`,
				outcome, prof, pid, comm, signals[r.IntN(len(signals))])
		default:
			fmt.Fprintf(bw, `apparmor="%s" operation="exec" profile="%s" name="/usr/bin/curl" pid=%d comm="%s" requested_mask="x" denied_mask="x" fsuid=0 ouid=0 target="%s//null-/usr/bin/curl"`,
				outcome, prof, pid, comm, prof)
		}
		bw.WriteByte('\n')
	}
	return events, bw.Flush()
}
