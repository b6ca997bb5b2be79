package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Unload, UnloadName and Disable take the profile directory's lock, as
// every other operation on it does: while another armorer holds it, they
// wait (here until their context ends) and change nothing.
func TestUnloadDisableTakeLock(t *testing.T) {
	p := withFakeKernel(t, fixture(t, "full"), false)
	h := New(p, nil)
	os.WriteFile(filepath.Join(p.ProfileDir, "myapp"), []byte(readString(t, filepath.Join("testdata", "profiles", "myapp"))), 0o644)
	f, _ := h.Resolve("myapp")
	lock, err := h.LockProfileDir(context.Background(), p.ProfileDir)
	if err != nil {
		t.Fatal(err)
	}
	ops := []struct {
		name string
		op   func(context.Context) error
	}{
		{"Unload", func(ctx context.Context) error { _, err := h.Unload(ctx, f, true); return err }},
		{"UnloadName", func(ctx context.Context) error { _, err := h.UnloadName(ctx, "myapp", true); return err }},
		{"Disable", func(ctx context.Context) error { _, err := h.Disable(ctx, f, true); return err }},
	}
	for _, o := range ops {
		name, op := o.name, o.op
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := op(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while the lock is held: %v, want it to wait for the lock", name, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(p.ProfileDir, "disable", "myapp")); err == nil {
		t.Errorf("Disable linked the file while the lock was held")
	}
	lock.Unlock()
	if _, err := h.Disable(context.Background(), f, true); err != nil {
		t.Errorf("Disable after the lock is released: %v", err)
	}
}
