//go:build linux

package source

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

const kmsgPath = "/dev/kmsg"

// kmsgBufSize holds any record: the kernel limits a /dev/kmsg record to
// CONSOLE_EXT_LOG_MAX (8 KiB) and fails a read into a smaller buffer with
// EINVAL.
const kmsgBufSize = 16 << 10

// kmsgSource reads /dev/kmsg: one read(2) returns exactly one record.
type kmsgSource struct {
	polledFile
	boot string // boot ID, stamped on every Position
	// caughtUp is set at the first EAGAIN: everything the ring buffer held
	// has been read.
	caughtUp atomic.Bool
}

func openKmsg(name string, opts SourceOptions) (Source, error) {
	return openKmsgPath(name, kmsgPath, opts)
}

func openKmsgPath(name, path string, opts SourceOptions) (Source, error) {
	// O_NONBLOCK: EAGAIN marks the end of the buffer; the runtime poller
	// waits for new records while following.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, openUnavailable(name, path, err,
			"this system has no "+path+" (a container without it?): read journal: or a log file instead",
			"reading the kernel log needs root or CAP_SYSLOG when kernel.dmesg_restrict=1")
	}
	if opts.FromEnd && opts.Resume == nil {
		// SEEK_END on /dev/kmsg moves to the record after the last one.
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			f.Close()
			return nil, &UnavailableError{Source: name, What: "seek " + path, Err: err}
		}
	}
	s := &kmsgSource{polledFile: polledFile{name: name, opts: opts, f: f}, boot: bootID()}
	if r := opts.Resume; r != nil && r.Boot != "" && s.boot != "" && r.Boot != s.boot {
		opts.Logger.Info("resume point is from another boot: reading the whole ring buffer", "resume_boot", r.Boot, "boot", s.boot)
		s.opts.Resume = nil
	}
	return s, nil
}

// bootID returns this boot's ID, or "" if the kernel does not say.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (s *kmsgSource) Run(ctx context.Context, out chan<- Record) error {
	rc, stop, err := s.begin(ctx, kmsgPath)
	if err != nil {
		return err
	}
	defer s.f.Close()
	defer stop()

	snd := newSender(&s.counters, out, s.name, s.opts.WhenFull, true)
	// Until the first EAGAIN the records come from the ring buffer's
	// backlog: waiting for the consumer loses nothing there.
	live := snd.drop
	if s.opts.WhenFull == FullDefault {
		snd.drop = false
	}
	buf := make([]byte, kmsgBufSize)
	var last uint64 // sequence number of the last record seen
	haveLast := false
	if s.opts.Resume != nil {
		last, haveLast = s.opts.Resume.Seq, true
	}
	skipping := haveLast // skip records up to Resume.Seq
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var (
			n    int
			rerr error
			end  bool
		)
		err := rc.Read(func(fd uintptr) bool {
			n, rerr = unix.Read(int(fd), buf)
			if rerr == unix.EAGAIN {
				snd.drop = live // caught up: from now on records are live
				s.caughtUp.Store(true)
				if s.opts.Follow {
					return false // wait until readable
				}
				end = true
			}
			return true
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read %s: %w", kmsgPath, err)
		}
		switch {
		case end:
			return nil
		case rerr == unix.EPIPE:
			// The ring buffer overwrote records we had not read yet; the
			// next read returns the oldest one left, and the sequence gap
			// counts what was lost.
			s.overruns.Add(1)
			s.opts.Logger.Warn("kernel ring buffer overrun: records lost", "after_seq", last)
			continue
		case rerr == unix.EINTR:
			continue
		case rerr == unix.EINVAL:
			return fmt.Errorf("read %s: record larger than the %d-byte buffer: %w", kmsgPath, len(buf), rerr)
		case rerr != nil:
			return fmt.Errorf("read %s: %w", kmsgPath, rerr)
		case n == 0:
			return nil
		}
		rec := buf[:n]
		h, err := parseKmsg(rec)
		if err != nil {
			s.errors.Add(1)
			s.opts.Logger.Warn("skipping a malformed /dev/kmsg record", "err", err, "len", n)
			continue
		}
		if skipping {
			if h.Seq <= last {
				continue
			}
			skipping = false
		}
		if haveLast && h.Seq > last+1 {
			s.lost.Add(h.Seq - last - 1)
		}
		last, haveLast = h.Seq, true
		if err := snd.send(ctx, rec, Position{Seq: h.Seq, Boot: s.boot}); err != nil {
			return err
		}
	}
}
