package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Poll intervals while following a file: a slow safety net when fsnotify
// works (it can miss events, e.g. on network file systems), a faster one
// when it does not.
const (
	pollWithWatch    = 2 * time.Second
	pollWithoutWatch = 250 * time.Millisecond
)

// fileSource reads a file line by line and, with Follow, keeps following it
// across rotation and truncation. It also reads stdin (path "", no follow).
type fileSource struct {
	once
	counters
	name string
	path string // "" for a plain reader (stdin)
	opts SourceOptions
	r    io.Reader
	f    *os.File // the open file, nil for a plain reader
	lr   lineReader
}

func newReaderSource(name string, r io.Reader, opts SourceOptions) *fileSource {
	s := &fileSource{name: name, opts: opts, r: r}
	s.lr.init(opts.MaxRecord)
	return s
}

func openFile(name, path string, opts SourceOptions) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileUnavailable(name, path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fileUnavailable(name, path, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, &UnavailableError{Source: name, What: "open " + path, Err: errors.New("is a directory"), Hint: "give a log file; for a journal directory write journal:" + path}
	}
	s := &fileSource{name: name, path: path, opts: opts, r: f, f: f}
	s.lr.init(opts.MaxRecord)
	s.lr.inode = fileInode(fi)
	sameFile := opts.Resume == nil || opts.Resume.Inode == 0 || s.lr.inode == 0 || opts.Resume.Inode == s.lr.inode
	switch {
	case opts.Resume != nil && !sameFile:
		opts.Logger.Warn("the file was replaced since the resume point (rotated?): reading it from the start",
			"path", path, "inode", s.lr.inode, "resume_inode", opts.Resume.Inode)
		s.rotations.Add(1)
	case opts.Resume != nil && opts.Resume.Offset <= fi.Size():
		if _, err := f.Seek(opts.Resume.Offset, io.SeekStart); err != nil {
			f.Close()
			return nil, fileUnavailable(name, path, err)
		}
		s.lr.off, s.lr.line = opts.Resume.Offset, opts.Resume.Line
	case opts.Resume != nil:
		opts.Logger.Warn("file is shorter than the resume offset: it was truncated or replaced; reading from the start",
			"path", path, "size", fi.Size(), "offset", opts.Resume.Offset)
		s.rotations.Add(1)
	case opts.FromEnd:
		// Count the lines we skip, so that line numbers stay true.
		if err := s.skipToEnd(); err != nil {
			f.Close()
			return nil, fileUnavailable(name, path, err)
		}
	}
	return s, nil
}

func fileUnavailable(name, path string, err error) error {
	return openUnavailable(name, path, err, "check the path", "run as root or as a member of the group that owns the file")
}

// openUnavailable describes a failed open of path, with a hint for a
// missing file and one for a permission problem.
func openUnavailable(name, path string, err error, notExistHint, permHint string) *UnavailableError {
	ue := &UnavailableError{Source: name, What: "open " + path, Err: err}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		ue.Err = pe.Err // the path is already in What
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		ue.Hint = notExistHint
	case errors.Is(err, fs.ErrPermission):
		ue.Hint = permHint
	}
	return ue
}

// skipToEnd reads to the end of the file, counting lines.
func (s *fileSource) skipToEnd() error {
	buf := make([]byte, 64<<10)
	var off, lines int64
	last := byte('\n')
	for {
		n, err := s.f.Read(buf)
		off += int64(n)
		lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
		if n > 0 {
			last = buf[n-1]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if last != '\n' {
		// Start at the beginning of the unfinished last line.
		pos, err := lastNewline(s.f, off)
		if err != nil {
			return err
		}
		off = pos
	}
	if _, err := s.f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	s.lr.off, s.lr.line = off, lines
	return nil
}

// lastNewline returns the offset just past the last '\n' before size, or 0.
func lastNewline(f *os.File, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(end-int64(len(buf)), 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

func (s *fileSource) Name() string       { return s.name }
func (s *fileSource) Stats() SourceStats { return s.counters.Stats() }

func (s *fileSource) Close() error {
	if s.once.close() && s.f != nil {
		return s.f.Close()
	}
	return nil
}

func (s *fileSource) Run(ctx context.Context, out chan<- Record) error {
	if err := s.start(); err != nil {
		return err
	}
	if s.f != nil {
		defer func() { s.f.Close() }()
	} else if d, ok := s.r.(interface{ SetReadDeadline(time.Time) error }); ok {
		// Unblock a pending read of stdin when the context ends, where the
		// descriptor allows it (pipes and sockets).
		stop := context.AfterFunc(ctx, func() { d.SetReadDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	snd := newSender(&s.counters, out, s.name, s.opts.WhenFull, false)
	if !s.opts.Follow || s.f == nil {
		err := s.drain(ctx, snd, true)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return s.follow(ctx, snd)
}

// drain delivers every complete line that can be read now. At the end of
// the input it returns nil, after delivering the last unfinished line too
// when final is set.
func (s *fileSource) drain(ctx context.Context, snd *sender, final bool) error {
	for {
		for {
			line, pos, cut, ok := s.lr.next(s.path != "")
			if !ok {
				break
			}
			if cut {
				s.errors.Add(1)
				s.opts.Logger.Warn("line too long: cut", "line", pos.Line, "max", s.lr.max)
			}
			if err := snd.send(ctx, line, pos); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var prevTail [tailLen]byte
		prevN, prevOff := copy(prevTail[:], s.lr.tail), s.lr.readOff()
		err := s.lr.fill(s.r)
		if err == nil && s.opts.Follow && s.f != nil && !heldAt(s.f, prevTail[:prevN], prevOff) {
			// Truncated and rewritten between checkRotation and this read:
			// what was read is new content at the old offset. Undo it; the
			// next checkRotation sees the changed tail and starts over.
			s.lr.unread(prevOff, prevTail[:prevN])
			if _, err := s.f.Seek(prevOff, io.SeekStart); err != nil {
				return fmt.Errorf("seek %s: %w", s.path, err)
			}
			return nil
		}
		if err == io.EOF {
			if final {
				if line, pos, ok := s.lr.rest(s.path != ""); ok {
					return snd.send(ctx, line, pos)
				}
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", s.name, err)
		}
	}
}

// follow reads the file and keeps following it until ctx ends.
func (s *fileSource) follow(ctx context.Context, snd *sender) error {
	var events <-chan fsnotify.Event
	var werrs <-chan error
	poll := pollWithoutWatch
	if !s.opts.noWatch {
		w, err := fsnotify.NewWatcher()
		if err == nil {
			err = w.Add(filepath.Dir(s.path))
			if err != nil {
				w.Close()
			}
		}
		if err != nil {
			s.opts.Logger.Warn("cannot watch the file's directory; polling instead", "path", s.path, "err", err)
		} else {
			defer w.Close()
			events, werrs, poll = w.Events, w.Errors, pollWithWatch
		}
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		// Check before reading: after a copytruncate the old offset may
		// point into the middle of new data.
		switched, err := s.checkRotation(ctx, snd)
		if err != nil {
			return err
		}
		if err := s.drain(ctx, snd, false); err != nil {
			return err
		}
		if switched {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-events:
		case err := <-werrs:
			s.errors.Add(1)
			s.opts.Logger.Warn("file watch error", "path", s.path, "err", err)
		case <-tick.C:
		}
	}
}

// checkRotation runs at the end of the current file. When the path now
// names another file (rotation by rename), it finishes the old file and
// opens the new one; when the file shrank (copytruncate), it starts over
// at offset 0. It reports whether it switched.
func (s *fileSource) checkRotation(ctx context.Context, snd *sender) (bool, error) {
	cur, err := s.f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", s.path, err)
	}
	if cur.Size() < s.lr.readOff() || !s.lr.sameTail(s.f) {
		s.opts.Logger.Info("file truncated: reading from the start", "path", s.path, "size", cur.Size(), "offset", s.lr.readOff())
		if line, pos, ok := s.lr.rest(true); ok {
			if err := snd.send(ctx, line, pos); err != nil {
				return false, err
			}
		}
		if _, err := s.f.Seek(0, io.SeekStart); err != nil {
			return false, fmt.Errorf("seek %s: %w", s.path, err)
		}
		s.lr.reset()
		s.rotations.Add(1)
		return true, nil
	}
	fi, err := os.Stat(s.path)
	if err != nil || os.SameFile(fi, cur) {
		// Same file, or renamed away with no successor yet: the writer
		// may still append to the old one, so keep reading it.
		return false, nil
	}
	nf, err := os.Open(s.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		s.errors.Add(1)
		s.opts.Logger.Warn("cannot open the rotated file; retrying", "path", s.path, "err", err)
		return false, nil
	}
	// Finish the old file: what was written before the rename.
	if err := s.drain(ctx, snd, true); err != nil {
		nf.Close()
		return false, err
	}
	s.opts.Logger.Info("file rotated: following the new file", "path", s.path)
	s.f.Close()
	s.f, s.r = nf, nf
	s.lr.reset()
	if fi, err := nf.Stat(); err == nil {
		s.lr.inode = fileInode(fi)
	}
	s.rotations.Add(1)
	return true, nil
}

// lineReader splits a stream into lines without a bufio.Scanner, so that a
// line longer than the maximum is cut and counted rather than fatal, and
// an unfinished last line waits for more data while following.
type lineReader struct {
	buf        []byte
	start, end int // unread data is buf[start:end]
	max        int
	skipping   bool   // dropping the rest of a line that was cut
	off        int64  // file offset of buf[start]
	line       int64  // lines delivered so far in this file
	inode      uint64 // the file's inode number, 0 if unknown
	// tail holds the last bytes read, up to readOff. If the file no longer
	// has them there, it was truncated and rewritten past our offset.
	tail []byte
}

const tailLen = 64

// sameTail reports whether f still holds the last bytes we read at the
// offsets we read them from.
func (lr *lineReader) sameTail(f *os.File) bool {
	return heldAt(f, lr.tail, lr.readOff())
}

// heldAt reports whether f still holds tail just before offset off.
func heldAt(f *os.File, tail []byte, off int64) bool {
	if len(tail) == 0 {
		return true
	}
	var buf [tailLen]byte
	got := buf[:len(tail)]
	n, err := f.ReadAt(got, off-int64(len(got)))
	if err != nil && err != io.EOF {
		return true // cannot tell; the size check still works
	}
	return n == len(got) && bytes.Equal(got, tail)
}

// unread drops what was read past offset off and restores the tail kept
// before it.
func (lr *lineReader) unread(off int64, tail []byte) {
	lr.end -= int(lr.readOff() - off)
	lr.tail = append(lr.tail[:0], tail...)
}

func (lr *lineReader) init(max int) {
	lr.max = max
	lr.buf = make([]byte, min(64<<10, max+1))
}

func (lr *lineReader) reset() {
	lr.start, lr.end, lr.skipping, lr.off, lr.line = 0, 0, false, 0, 0
	lr.tail = lr.tail[:0]
}

// readOff is the file offset up to which the file was read.
func (lr *lineReader) readOff() int64 { return lr.off + int64(lr.end-lr.start) }

// next returns the next complete line, without its '\n'. cut reports a line
// that was longer than max; the rest of it is skipped.
func (lr *lineReader) next(withOffset bool) (line []byte, pos Position, cut, ok bool) {
	for {
		data := lr.buf[lr.start:lr.end]
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if len(data) < lr.max {
				return nil, Position{}, false, false
			}
			// Over-long line: deliver the first max bytes once.
			line = data[:lr.max]
			lr.consume(lr.max)
			if lr.skipping {
				continue
			}
			lr.skipping = true
			return line, lr.pos(withOffset), true, true
		}
		line = data[:i]
		lr.consume(i + 1)
		if lr.skipping {
			lr.skipping = false
			continue
		}
		return line, lr.pos(withOffset), false, true
	}
}

// rest returns an unfinished last line, if any.
func (lr *lineReader) rest(withOffset bool) (line []byte, pos Position, ok bool) {
	data := lr.buf[lr.start:lr.end]
	lr.consume(len(data))
	if len(data) == 0 || lr.skipping {
		lr.skipping = false
		return nil, Position{}, false
	}
	return data, lr.pos(withOffset), true
}

func (lr *lineReader) consume(n int) {
	lr.start += n
	lr.off += int64(n)
}

func (lr *lineReader) pos(withOffset bool) Position {
	lr.line++
	p := Position{Line: lr.line}
	if withOffset {
		p.Offset, p.Inode = lr.off, lr.inode
	}
	return p
}

// fill reads more data, compacting or growing the buffer as needed. It
// returns io.EOF when the reader has nothing more now.
func (lr *lineReader) fill(r io.Reader) error {
	if lr.start > 0 {
		n := copy(lr.buf, lr.buf[lr.start:lr.end])
		lr.start, lr.end = 0, n
	}
	if lr.end == len(lr.buf) {
		lr.buf = append(lr.buf, make([]byte, len(lr.buf))...)[:min(2*len(lr.buf), lr.max+1)]
		if lr.end == len(lr.buf) { // cannot happen: next cuts lines at max
			return errors.New("line buffer full")
		}
	}
	for range 100 {
		n, err := r.Read(lr.buf[lr.end:])
		lr.end += n
		if n > 0 {
			lr.keepTail(lr.buf[lr.end-n : lr.end])
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// keepTail appends b to the window of the last tailLen bytes read.
func (lr *lineReader) keepTail(b []byte) {
	if len(b) >= tailLen {
		lr.tail = append(lr.tail[:0], b[len(b)-tailLen:]...)
		return
	}
	lr.tail = append(lr.tail, b...)
	if len(lr.tail) > tailLen {
		lr.tail = append(lr.tail[:0], lr.tail[len(lr.tail)-tailLen:]...)
	}
}
