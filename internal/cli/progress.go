package cli

import (
	"fmt"
	"sync"
	"time"

	"github.com/armorer-dev/armorer/auditlog/source"
)

// Progress on stderr for long reads: a command that prints its result at
// the end (learn, simulate, events --summary) shows how far the read has
// got once it has taken longer than progressDelay, on a terminal only:
// never in a pipe, a file or with --json.

// progressDelay is how long a read runs silently; progressEvery how often
// the line is redrawn after that.
var (
	progressDelay = time.Second
	progressEvery = 200 * time.Millisecond
)

// startProgress shows p's progress on io's stderr while it is read, and
// returns the func that stops it and clears the line (call it before
// printing anything else on stderr). off turns it off (--json).
func startProgress(io_ *IOStreams, p *source.Pipeline, off bool) func() {
	if off || !io_.IsStderrTTY() || p == nil {
		return func() {}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-stop:
			return
		case <-time.After(progressDelay):
		}
		start := time.Now().Add(-progressDelay)
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		spin := `|/-\`
		for i := 0; ; i++ {
			st := p.Stats()
			el := time.Since(start).Seconds()
			fmt.Fprintf(io_.ErrOut, "\r\x1b[K%c reading: %s lines, %s events (%s lines/s)",
				spin[i%len(spin)], groupDigits(st.Lines), groupDigits(st.Events), groupDigits(uint64(float64(st.Lines)/el)))
			select {
			case <-stop:
				fmt.Fprint(io_.ErrOut, "\r\x1b[K")
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
		})
	}
}

// groupDigits writes n with thousands separators: 1,234,567.
func groupDigits(n uint64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
