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
	// Policy is the compiled policy (-QK -S) of the profiles File defines,
	// one binary blob per profile in the parser's order, empty when File
	// defines none; nil when the parser refused File or hung on it.
	Policy []byte
	// Stderr is the parser's complaint when it refused File.
	Stderr string
	// Hung: the parser did not finish File within 5 seconds (3.0.8 loops
	// forever on some nested empty alternatives, e.g. "/{,{,a,},}").
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
	// endMarkerName names the profile compiled after every file of a batch:
	// -S writes one blob per profile, not per file, so the marker's blob is
	// what tells where one file's profiles end.
	endMarkerName = "armorer-oracle-end-of-file"
)

// batchTimeout bounds one run over a batch; fileTimeout one file when a
// batch fails and its files are compiled one by one. Variables so that a
// test can shorten them.
var (
	batchTimeout = 60 * time.Second
	fileTimeout  = 5 * time.Second
)

// blobStart begins the binary policy -S writes for each profile.
var blobStart = []byte("\x04\x08\x00version\x00")

// endMarkerBytes is how the marker's name appears in its blob: a
// little-endian u16 length (with the NUL), the name, a NUL.
var endMarkerBytes = append([]byte{byte(len(endMarkerName) + 1), 0}, endMarkerName+"\x00"...)

// CompileFiles compiles each file on its own, many files per parser run,
// and returns one Result per file in the order of files. A run compiles
// file1 marker file2 marker …; --jobs=1 keeps the blobs on stdout in that
// order, so the output splits back into files at the markers' blobs. When
// a run fails (a file is refused, or one hangs), its files are compiled one
// at a time to tell which. err is set only when the parser could not run.
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
	args := make([]string, 0, 2*len(files))
	for _, f := range files {
		args = append(args, f, p.endMarker)
	}
	ok, stdout, _, err := p.runTimeout(ctx, batchTimeout, includeDirs, args...)
	if err == nil && ok {
		if policies := splitFiles(stdout); len(policies) == len(files) {
			for i, b := range policies {
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

// splitFiles cuts the -S output of a batch into the policies of its files:
// the blobs before each end marker's blob. nil if the output is not a
// sequence of blobs ending with a marker.
func splitFiles(b []byte) [][]byte {
	var out [][]byte
	start := 0 // where the current file's blobs begin
	for i := 0; i < len(b); {
		if !bytes.HasPrefix(b[i:], blobStart) {
			return nil
		}
		end := len(b)
		if next := bytes.Index(b[i+len(blobStart):], blobStart); next >= 0 {
			end = i + len(blobStart) + next
		}
		if bytes.Contains(b[i:end], endMarkerBytes) {
			out = append(out, b[start:i:i])
			start = end
		}
		i = end
	}
	if start != len(b) {
		return nil
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
