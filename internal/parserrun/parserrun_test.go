package parserrun

import (
	"context"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	ctx := context.Background()
	out, stderr, err := Run(ctx, []string{"sh", "-c", `echo out; echo "Cache read/write disabled: interface file missing. (x)" >&2; echo real >&2`})
	if err != nil || string(out) != "out\n" || stderr != "real\n" {
		t.Errorf("Run = %q, %q, %v; want the noise line dropped", out, stderr, err)
	}
	if _, _, err := Run(ctx, []string{"sh", "-c", "exit 3"}); !Exited(err) {
		t.Errorf("exit 3: Exited(%v) = false", err)
	}
	if _, _, err := Run(ctx, []string{"/nonexistent/apparmor_parser"}); err == nil || Exited(err) {
		t.Errorf("missing program: err %v, Exited %v; want a start failure", err, Exited(err))
	}
	// A forked worker that never ends is killed with its group.
	ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err = Run(ctx, []string{"sh", "-c", "sleep 30 & wait"})
	if err == nil || Exited(err) {
		t.Errorf("cancelled: err %v, Exited %v; want a kill", err, Exited(err))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelled run took %v: the process group was not killed", d)
	}
}
