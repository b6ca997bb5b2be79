package oracle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Result is one file's outcome in CompileFiles.
type Result struct {
	File string // the file compiled
	// Policy is the compiled policy (-QK -S) of every profile in File,
	// empty when File defines none; nil when the parser refused or hung.
	Policy []byte
	// Stderr is the parser's complaint when it refused File.
	Stderr string
	// Hung: the parser did not finish File within 5 seconds (3.0.8
	// loops forever on some nested empty alternatives, e.g. "/{,{,a,},}").
	Hung bool
}

// Accepted reports whether the parser compiled the file.
func (r Result) Accepted() bool { return r.Policy != nil }

const (
	// batchSize files go to one parser run: starting the parser costs more
	// than compiling a small profile.
	batchSize = 200
	// batchRuns parser runs go at a time (the test machines have 2 cores).
	batchRuns = 2
)

// batchTimeout bounds one run over a batch; fileTimeout one file when a
// batch fails and its files are compiled one by one. Variables so that a
// test can shorten them.
var (
	batchTimeout = 60 * time.Second
	fileTimeout  = 5 * time.Second
)

// blobStart begins the binary policy -S writes for each file (one blob
// holds all the file's profiles).
var blobStart = []byte("\x04\x08\x00version\x00")

// CompileFiles compiles each file on its own, many files per parser run,
// and returns one Result per file in the order of files. --jobs=1 keeps the
// blobs on stdout in file order, so a run's output splits back into files.
// When a run fails (a file is refused, or one hangs), its files are
// compiled one at a time to tell which. err is set only when the parser
// could not run.
func (p *Parser) CompileFiles(ctx context.Context, files []string, includeDirs []string) ([]Result, error) {
	out := make([]Result, len(files))
	sem := make(chan struct{}, batchRuns)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for lo := 0; lo < len(files); lo += batchSize {
		hi := min(lo+batchSize, len(files))
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := p.compileBatch(ctx, files[lo:hi], includeDirs, out[lo:hi]); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out, firstErr
}

func (p *Parser) compileBatch(ctx context.Context, files, includeDirs []string, out []Result) error {
	ok, stdout, _, err := p.runTimeout(ctx, batchTimeout, includeDirs, files...)
	if err == nil && ok {
		if blobs := splitBlobs(stdout); len(blobs) == len(files) {
			for i, b := range blobs {
				out[i] = Result{File: files[i], Policy: b}
			}
			return nil
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for i, f := range files {
		ok, stdout, stderr, err := p.runTimeout(ctx, fileTimeout, includeDirs, f)
		switch {
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			out[i] = Result{File: f, Hung: true}
		case err != nil:
			return err
		case !ok:
			out[i] = Result{File: f, Stderr: stderr}
		default:
			out[i] = Result{File: f, Policy: append([]byte{}, stdout...)}
		}
	}
	return nil
}

func (p *Parser) runTimeout(ctx context.Context, timeout time.Duration, includeDirs []string, files ...string) (bool, []byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return p.Run(ctx, includeDirs, append([]string{"--jobs=1", "-QK", "-S"}, files...)...)
}

// splitBlobs cuts -S output at each blobStart; nil if it does not start
// with one.
func splitBlobs(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		if !bytes.HasPrefix(b, blobStart) {
			return nil
		}
		next := bytes.Index(b[len(blobStart):], blobStart)
		if next < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:len(blobStart)+next])
		b = b[len(blobStart)+next:]
	}
	return out
}

// CompileTexts is CompileFiles for profile texts, written to temporary
// files named p0000, p0001, … (Result.File names them).
func (p *Parser) CompileTexts(ctx context.Context, texts [][]byte, includeDirs []string) ([]Result, error) {
	dir, err := os.MkdirTemp("", "armorer-oracle-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	files := make([]string, len(texts))
	for i, text := range texts {
		files[i] = filepath.Join(dir, fmt.Sprintf("p%04d", i))
		if err := os.WriteFile(files[i], text, 0o644); err != nil {
			return nil, err
		}
	}
	return p.CompileFiles(ctx, files, includeDirs)
}
