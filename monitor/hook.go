package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"time"
)

// Hook runs a command for denials, with the event as JSON on stdin. The
// command is an argv, never a shell line. Runs are rate-limited: at most one
// per MinInterval; denials in between are counted as Suppressed.
type Hook struct {
	Argv        []string
	MinInterval time.Duration // default 10s
	Timeout     time.Duration // per run; default 30s
	Logger      *slog.Logger

	mu         sync.Mutex
	last       time.Time
	running    bool
	Suppressed int
}

// Fire runs the hook for one denial unless rate-limited or still running.
// It never blocks the caller: the command runs in its own goroutine.
func (h *Hook) Fire(ctx context.Context, o Observation, isNew bool) {
	minInterval := h.MinInterval
	if minInterval <= 0 {
		minInterval = 10 * time.Second
	}
	h.mu.Lock()
	now := time.Now()
	if h.running || (!h.last.IsZero() && now.Sub(h.last) < minInterval) {
		h.Suppressed++
		h.mu.Unlock()
		return
	}
	h.last, h.running = now, true
	h.mu.Unlock()

	payload := struct {
		Denial
		New bool `json:"new"`
	}{denialOf(o), isNew}
	data, err := json.Marshal(payload)
	if err != nil {
		h.done(err)
		return
	}
	go func() { h.done(h.run(ctx, data)) }()
}

func (h *Hook) run(ctx context.Context, stdin []byte) error {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.Argv[0], h.Argv[1:]...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("on-denial hook %s: %w: %s", h.Argv[0], err, bytes.TrimSpace(out))
	}
	return nil
}

func (h *Hook) done(err error) {
	h.mu.Lock()
	h.running = false
	h.mu.Unlock()
	if err != nil && h.Logger != nil {
		h.Logger.Error("on-denial hook failed", "err", err)
	}
}
