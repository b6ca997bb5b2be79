package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"

	"github.com/armorer-dev/armorer/internal/statelock"
)

// LockProfileDir takes the lock of a profile directory's state, in the
// state directory (one lock file per directory), waiting while another
// armorer holds it until ctx ends. Every writer of profile files holds it
// from reading a file to renaming its new version in place, so two
// writers never both start from the same version and one lose the
// other's change.
func (h *Host) LockProfileDir(ctx context.Context, dir string) (*statelock.Lock, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(filepath.Clean(abs)))
	file := filepath.Join(h.Paths.StateDir, "lock", "profiles-"+hex.EncodeToString(sum[:8])+".lock")
	l, err := statelock.Acquire(ctx, file, func() {
		h.log.Info("another armorer is writing the profile directory; waiting", "dir", abs, "lock", file)
	})
	if err != nil {
		return nil, fmt.Errorf("profile directory %s: %w", abs, err)
	}
	return l, nil
}
