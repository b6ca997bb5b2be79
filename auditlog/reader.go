package auditlog

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// DefaultMaxLine is the longest line a Reader reads whole; longer lines are
// counted as bad and skipped. The kernel's own records are shorter than 9 KB.
const DefaultMaxLine = 1 << 20

// ReaderOptions configure a Reader. The zero value is ready to use.
type ReaderOptions struct {
	// Name names the input in errors (a file name, "-", a SOURCE string).
	Name string
	// MaxLine bounds a line's length (DefaultMaxLine if 0); the Reader's
	// memory stays within a small multiple of it.
	MaxLine int
	// OnBad, if set, is called with each bad line's error (File and Line
	// set); the stream continues.
	OnBad func(*SyntaxError)
	// Stream, if set, is shared with other readers, so that duplicates
	// across inputs are recognised and Stats cover them all. Default: the
	// Reader's own.
	Stream *Stream
}

// Reader reads AppArmor events from a stream of log lines in any mix of
// the text formats Parser knows, or from `journalctl -o export` output
// (detected from the stream's first bytes). It drops duplicates, counts
// lost-event notices and bad lines, and allocates nothing per line in the
// common path.
//
//	r := auditlog.NewReader(f, auditlog.ReaderOptions{Name: path})
//	for r.Next() {
//		ev := r.Event() // valid until the next call to Next
//	}
//	if err := r.Err(); err != nil { … }
//	st := r.Stats()
//
// A Reader is not safe for concurrent use.
type Reader struct {
	sc     *bufio.Scanner
	p      *Parser
	st     *Stream
	ev     Event
	opts   ReaderOptions
	line   int64
	err    error
	export bool
	probed bool
	tok    tokenKind
	inLong bool
}

type tokenKind uint8

const (
	tokLine     tokenKind = iota
	tokLongHead           // first MaxLine bytes of an over-long line
	tokLongRest           // the rest of it
)

// NewReader returns a Reader of r.
func NewReader(r io.Reader, opts ReaderOptions) *Reader {
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	rd := &Reader{sc: bufio.NewScanner(r), p: NewParser(), opts: opts, st: opts.Stream}
	if rd.st == nil {
		rd.st = new(Stream)
	}
	rd.sc.Buffer(make([]byte, min(256*1024, opts.MaxLine)), opts.MaxLine)
	rd.sc.Split(rd.split)
	return rd
}

// Next advances to the next AppArmor event, which Event returns. It returns
// false at the end of the input or on a read error (see Err).
func (r *Reader) Next() bool {
	for r.sc.Scan() {
		tok := r.sc.Bytes()
		if r.tok == tokLongRest {
			continue
		}
		r.line++
		r.st.Stats.Lines++
		if r.tok == tokLongHead {
			r.bad(&SyntaxError{Col: r.opts.MaxLine, Msg: "line longer than " + strconv.Itoa(r.opts.MaxLine) + " bytes, skipped"})
			continue
		}
		var err error
		if r.export {
			err = r.p.ParseExport(tok, &r.ev)
		} else {
			err = r.p.Parse(tok, &r.ev)
		}
		if err != nil {
			se, ok := err.(*SyntaxError)
			if !ok {
				se = &SyntaxError{Col: 1, Msg: err.Error()}
			}
			r.bad(se)
			continue
		}
		if r.st.Add(&r.ev) {
			return true
		}
	}
	r.err = r.sc.Err()
	return false
}

func (r *Reader) bad(se *SyntaxError) {
	r.st.Stats.Bad++
	if r.opts.OnBad != nil {
		se.File, se.Line = r.opts.Name, r.line
		r.opts.OnBad(se)
	}
}

// Event returns the current event. It and its slices are valid until the
// next call to Next; use Clone to keep it.
func (r *Reader) Event() *Event { return &r.ev }

// Line returns the 1-based number of the line (or export record) the
// current event came from.
func (r *Reader) Line() int64 { return r.line }

// Stats returns the counts so far (of the shared Stream, if one was given).
func (r *Reader) Stats() Stats { return r.st.Stats }

// Err returns the first read error, nil at a clean end of input.
func (r *Reader) Err() error { return r.err }

// Export reports whether the stream was detected as journalctl -o export.
func (r *Reader) Export() bool { return r.export }

var (
	exportMagic           = []byte("__CURSOR=")
	errExportFieldTooLong = errors.New("journal export: binary field longer than the maximum line size")
)

func (r *Reader) split(data []byte, atEOF bool) (int, []byte, error) {
	if !r.probed {
		if len(data) < len(exportMagic) && !atEOF && bytes.HasPrefix(exportMagic, data) {
			return 0, nil, nil
		}
		r.probed, r.export = true, bytes.HasPrefix(data, exportMagic)
	}
	if r.export {
		return r.splitExport(data, atEOF)
	}
	return r.splitLine(data, atEOF)
}

// splitLine is bufio.ScanLines that turns an over-long line into a head
// token and skipped rest tokens instead of stopping the Scanner.
func (r *Reader) splitLine(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		r.tok = r.lineKind(false)
		return i + 1, data[:i], nil
	}
	if len(data) >= r.opts.MaxLine {
		r.tok = r.lineKind(true)
		return len(data), data, nil
	}
	if atEOF && len(data) > 0 {
		r.tok = r.lineKind(false)
		return len(data), data, nil
	}
	return 0, nil, nil
}

// lineKind classifies the next token; more says the line goes on after it.
func (r *Reader) lineKind(more bool) tokenKind {
	k := tokLine
	switch {
	case r.inLong:
		k = tokLongRest
	case more:
		k = tokLongHead
	}
	r.inLong = more
	return k
}

// splitExport returns one journal export record per token: fields up to a
// blank line, walking binary fields by their length so that newlines in
// them do not end the record.
func (r *Reader) splitExport(data []byte, atEOF bool) (int, []byte, error) {
	start := 0
	for start < len(data) && data[start] == '\n' { // blank lines between records
		start++
	}
	i := start
	for i < len(data) {
		if data[i] == '\n' {
			r.tok = tokLine
			return i + 1, data[start:i], nil
		}
		nl := bytes.IndexByte(data[i:], '\n')
		if nl < 0 {
			break
		}
		line := data[i : i+nl]
		if bytes.IndexByte(line, '=') >= 0 {
			i += nl + 1
			continue
		}
		j := i + nl + 1
		if j+8 > len(data) {
			break
		}
		n := leUint64(data[j : j+8])
		if n > uint64(len(data)-j-8-1) {
			if n >= uint64(r.opts.MaxLine) {
				return 0, nil, errExportFieldTooLong
			}
			break
		}
		i = j + 8 + int(n) + 1
	}
	if atEOF {
		if start < len(data) {
			r.tok = tokLine
			return len(data), bytes.TrimSuffix(data[start:], []byte("\n")), nil
		}
		return len(data), nil, nil
	}
	if start > 0 {
		return start, nil, nil
	}
	return 0, nil, nil
}
