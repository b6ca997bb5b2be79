// Command policybench times armorer's policy package against one
// apparmor_parser -QK -p invocation on the same files (bench/policy.sh runs
// it). Both do the same work: read every profile, expand every include
// recursively, and write the result out (apparmor_parser -p prints the
// preprocessed text; armorer parses every file into its AST and prints it
// in canonical form). It reports wall-clock and CPU time (user+system,
// which stays meaningful on a busy machine) and their ratios.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/armorer-dev/armorer/policy"
)

func main() {
	n := flag.Int("n", 10, "runs of each side; the fastest run counts")
	parser := flag.String("parser", "apparmor_parser", "apparmor_parser to compare with")
	base := flag.String("base", policy.DefaultIncludeDir, "include base directory (like apparmor_parser --base)")
	flag.Parse()
	files := flag.Args()
	if len(files) == 0 {
		fmt.Fprintln(os.Stderr, "usage: policybench [-n N] [-parser PATH] FILE...")
		os.Exit(2)
	}
	if err := run(*n, *parser, *base, files); err != nil {
		fmt.Fprintln(os.Stderr, "policybench:", err)
		os.Exit(1)
	}
}

type timing struct{ wall, cpu time.Duration }

// min keeps the best wall and the best CPU time seen (on a busy machine
// they come from different runs).
func (t timing) min(u timing) timing {
	return timing{min(t.wall, u.wall), min(t.cpu, u.cpu)}
}

func run(n int, parser, base string, files []string) error {
	conf, err := os.CreateTemp("", "policybench-*.conf")
	if err != nil {
		return err
	}
	conf.Close()
	defer os.Remove(conf.Name())
	argv := append([]string{"--config-file", conf.Name(), "-QK", "-p", "-I", base, "--base", base}, files...)

	var bytesRead, bytesOut int
	best := func(f func() (timing, error)) (timing, error) {
		var b timing
		for i := 0; i < n; i++ {
			t, err := f()
			if err != nil {
				return t, err
			}
			if i == 0 {
				b = t
			}
			b = b.min(t)
		}
		return b, nil
	}
	arm, err := best(func() (timing, error) {
		var err error
		var t timing
		t, bytesRead, bytesOut, err = armorer(base, files)
		return t, err
	})
	if err != nil {
		return err
	}
	var parserOut int
	aa, err := best(func() (timing, error) {
		cmd := exec.CommandContext(context.Background(), parser, argv...)
		out := &countWriter{}
		cmd.Stdout = out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return timing{}, fmt.Errorf("%s -QK -p: %w", parser, err)
		}
		parserOut = out.n
		st := cmd.ProcessState
		return timing{time.Since(start), st.UserTime() + st.SystemTime()}, nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("files: %d profiles; armorer read %d bytes (each file once) and printed %d; apparmor_parser -p printed %d\n",
		len(files), bytesRead, bytesOut, parserOut)
	fmt.Printf("armorer (parse + includes + format):  wall %8.2f ms   cpu %8.2f ms   (best of %d)\n", ms(arm.wall), ms(arm.cpu), n)
	fmt.Printf("apparmor_parser -QK -p (one process): wall %8.2f ms   cpu %8.2f ms   (best of %d)\n", ms(aa.wall), ms(aa.cpu), n)
	fmt.Printf("ratio (apparmor_parser / armorer):    wall %8.1fx     cpu %8.1fx\n", ratio(aa.wall, arm.wall), ratio(aa.cpu, arm.cpu))
	return nil
}

// armorer parses every file with its includes and formats each parsed
// file, with one Loader as one armorer process would.
func armorer(base string, files []string) (t timing, read, printed int, err error) {
	cpu0 := cpuTime()
	start := time.Now()
	l := policy.NewLoader()
	l.Base = base
	seen := map[*policy.File]bool{}
	for _, name := range files {
		f, err := l.Load(name, nil)
		if err != nil {
			return t, 0, 0, err
		}
		all, err := l.Closure(f)
		if err != nil {
			return t, 0, 0, err
		}
		for _, g := range all {
			if !seen[g] {
				seen[g] = true
				read += l.Fset.File(g.Pos()).Size()
				printed += len(policy.FormatFile(l.Fset, g))
			}
		}
	}
	return timing{time.Since(start), cpuTime() - cpu0}, read, printed, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
