//go:build linux

package source

import (
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// auditNlgrpReadlog is AUDIT_NLGRP_READLOG (linux/audit.h): the multicast
// group on which the kernel sends a copy of every audit record, whether or
// not auditd is connected.
const auditNlgrpReadlog = 1

// netlinkRcvBuf is the socket receive buffer we ask for, so that a burst of
// records does not overrun (ENOBUFS) while we are busy.
const netlinkRcvBuf = 4 << 20

// netlinkSource reads the audit multicast group on NETLINK_AUDIT.
type netlinkSource struct{ polledFile }

func openNetlink(name string, opts SourceOptions) (Source, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_AUDIT)
	if err != nil {
		ue := &UnavailableError{Source: name, What: "open a NETLINK_AUDIT socket", Err: err}
		switch err {
		case unix.EPROTONOSUPPORT, unix.EAFNOSUPPORT:
			ue.Hint = "the kernel was built without audit support (CONFIG_AUDIT): read kmsg: or journal: instead"
		case unix.EPERM, unix.EACCES:
			ue.Hint = "a seccomp or LSM policy forbids audit sockets here: read kmsg: or journal: instead"
		}
		return nil, ue
	}
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (auditNlgrpReadlog - 1)}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		ue := &UnavailableError{Source: name, What: "join the audit multicast group (AUDIT_NLGRP_READLOG)", Err: err}
		switch err {
		case unix.EPERM, unix.EACCES:
			ue.Hint = "needs CAP_AUDIT_READ in the initial user namespace: run as root on the host, or grant the capability (a container also needs the host's network namespace)"
		case unix.EINVAL, unix.ENOENT:
			ue.Hint = "the kernel has no audit multicast group (older than 3.16?): read kmsg: or journal: instead"
		}
		return nil, ue
	}
	if ok, why := socketInInitNetns(fd); !ok {
		unix.Close(fd)
		return nil, &UnavailableError{Source: name, What: "join the audit multicast group (AUDIT_NLGRP_READLOG)",
			Err:  errors.New(why),
			Hint: "the kernel sends audit records only to the host's network namespace: run on the host or in a pod with hostNetwork"}
	}
	// A larger buffer absorbs bursts; SO_RCVBUFFORCE needs CAP_NET_ADMIN,
	// SO_RCVBUF is capped by net.core.rmem_max.
	rcvBuf := netlinkRcvBuf
	if opts.rcvBuf > 0 {
		rcvBuf = opts.rcvBuf
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	// The socket is non-blocking, so os.NewFile registers it with the
	// runtime poller: reads wait without a thread and deadlines work.
	return &netlinkSource{polledFile{name: name, opts: opts, f: os.NewFile(uintptr(fd), "netlink:audit")}}, nil
}

func (s *netlinkSource) Run(ctx context.Context, out chan<- Record) error {
	rc, stop, err := s.begin(ctx, "netlink")
	if err != nil {
		return err
	}
	defer s.f.Close()
	defer stop()

	snd := newSender(&s.counters, out, s.name, s.opts.WhenFull, true)
	buf := make([]byte, 64<<10) // audit records are at most MAX_AUDIT_MESSAGE_LENGTH (8970) bytes
	line := make([]byte, 0, 9<<10)
	var ordinal int64
	var sendErr error
	for {
		var (
			n    int
			from unix.Sockaddr
			rerr error
		)
		err := rc.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), buf, 0)
			return rerr != unix.EAGAIN
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read netlink: %w", err)
		}
		switch rerr {
		case nil:
		case unix.ENOBUFS:
			// The socket buffer overflowed: the kernel dropped at least
			// one record, it does not say how many.
			s.overruns.Add(1)
			s.lost.Add(1)
			s.opts.Logger.Warn("audit netlink receive buffer overrun: records lost")
			continue
		case unix.EINTR:
			continue
		default:
			return fmt.Errorf("read netlink: %w", rerr)
		}
		if nl, ok := from.(*unix.SockaddrNetlink); !ok || nl.Pid != 0 {
			s.errors.Add(1) // not from the kernel: ignore
			continue
		}
		err = parseNetlink(buf[:n], func(typ uint16, payload []byte) {
			if sendErr != nil {
				return
			}
			switch typ {
			case nlmsgNoop, nlmsgDone:
				return
			case nlmsgError:
				s.errors.Add(1)
				return
			case nlmsgOverrun:
				s.overruns.Add(1)
				s.lost.Add(1)
				return
			}
			ordinal++
			line = appendAuditLine(line[:0], typ, payload)
			sendErr = snd.send(ctx, line, Position{Line: ordinal})
		})
		if err != nil {
			s.errors.Add(1)
			s.opts.Logger.Warn("malformed netlink message", "err", err)
		}
		if sendErr != nil {
			return sendErr
		}
	}
}

// procPidInitIno is PROC_PID_INIT_INO, the fixed inode number of the
// initial PID namespace (include/linux/proc_ns.h).
const procPidInitIno = 0xEFFFFFFC

// socketInInitNetns reports whether the socket lives in the initial network
// namespace, the only one kauditd multicasts to; elsewhere the group binds
// but never delivers. When it cannot tell (not in the initial PID namespace,
// so /proc does not show the host's kernel threads; or a kernel without
// SIOCGSKNS, before 4.9), it says yes.
func socketInInitNetns(fd int) (ok bool, why string) {
	var pidns, initNet, sockNet unix.Stat_t
	if unix.Stat("/proc/self/ns/pid", &pidns) != nil || pidns.Ino != procPidInitIno {
		return true, ""
	}
	// PID 2, kthreadd, lives in the initial network namespace, and unlike
	// PID 1 its namespaces can be read from any other one.
	if comm, err := os.ReadFile("/proc/2/comm"); err != nil || string(comm) != "kthreadd\n" {
		return true, ""
	}
	if unix.Stat("/proc/2/ns/net", &initNet) != nil {
		return true, ""
	}
	nsfd, err := unix.IoctlRetInt(fd, unix.SIOCGSKNS)
	if err != nil {
		return true, ""
	}
	defer unix.Close(nsfd)
	if unix.Fstat(nsfd, &sockNet) != nil {
		return true, ""
	}
	if sockNet.Ino == initNet.Ino && sockNet.Dev == initNet.Dev {
		return true, ""
	}
	return false, fmt.Sprintf("this process is in network namespace %d, not the initial one (%d)", sockNet.Ino, initNet.Ino)
}
