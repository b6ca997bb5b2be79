//go:build linux

package source

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"
)

// polledFile is what the kmsg: and netlink: sources share: a non-blocking
// file read through the runtime poller, run once, closed by Run or Close.
type polledFile struct {
	once
	counters
	name string
	opts SourceOptions
	f    *os.File
}

func (s *polledFile) Name() string       { return s.name }
func (s *polledFile) Stats() SourceStats { return s.counters.Stats() }

func (s *polledFile) Close() error {
	if s.once.close() {
		return s.f.Close()
	}
	return nil
}

// begin starts the one Run. It returns the file's raw connection and a
// stop function: until stop is called, the end of ctx wakes a blocked read
// through an expired deadline. The caller closes s.f when Run ends; begin
// closes it itself only when it fails after starting.
func (s *polledFile) begin(ctx context.Context, what string) (syscall.RawConn, func() bool, error) {
	if err := s.start(); err != nil {
		return nil, nil, err
	}
	rc, err := s.f.SyscallConn()
	if err != nil {
		s.f.Close()
		return nil, nil, fmt.Errorf("read %s: %w", what, err)
	}
	stop := context.AfterFunc(ctx, func() { s.f.SetReadDeadline(time.Unix(1, 0)) })
	return rc, stop, nil
}
