//go:build unix

package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// lockFile serialises agents sharing a state directory (a DaemonSet
// update that starts the new pod before the old one is gone).
const lockFile = "k8s-agent.lock"

// lockState takes the state directory's lock, waiting while another
// agent holds it, until ctx ends. The lock lasts as long as the returned
// file is open.
func (a *Agent) lockState(ctx context.Context) (*os.File, error) {
	if err := os.MkdirAll(a.cfg.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(a.cfg.StateDir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("state directory lock: %w", err)
	}
	for logged := false; ; {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if err != unix.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		if !logged {
			a.log.Warn("another agent holds the state directory; waiting for it to exit", "lock", f.Name())
			logged = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
