package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/armorer-dev/armorer/internal/statelock"
)

// lockFile serialises agents sharing a state directory (a DaemonSet
// update that starts the new pod before the old one is gone).
const lockFile = "k8s-agent.lock"

// lockState takes the state directory's lock, waiting while another
// agent holds it, until ctx ends. The lock lasts until Unlock.
func (a *Agent) lockState(ctx context.Context) (*statelock.Lock, error) {
	if err := os.MkdirAll(a.cfg.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	file := filepath.Join(a.cfg.StateDir, lockFile)
	return statelock.Acquire(ctx, file, func() {
		a.log.Warn("another agent holds the state directory; waiting for it to exit", "lock", file)
	})
}
