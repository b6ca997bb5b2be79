package auditlog

import (
	"bufio"
	"bytes"
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
	// MaxLine bounds a line's length, and a journal export record's
	// (DefaultMaxLine if 0): a longer one is skipped and counted as bad.
	// The Reader's memory stays within a small multiple of it.
	MaxLine int
	// OnBad, if set, is called with each bad line's error (File and Line
	// set); the stream continues.
	OnBad func(*SyntaxError)
	// OnRejected, if set, is called with each record that is rejected as
	// evidence (KindRejected: neither the kernel nor auditd wrote it).
	OnRejected func(*RejectedError)
	// Only, if set, keeps only these keys' fields in events (see
	// Parser.Only): less work per event for a caller that reads a few.
	Only []Key
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
	// The input and its buffer, as bufio.Scanner holds them (see scan).
	in         io.Reader
	buf        []byte
	start, end int
	rerr       error // the first read error, io.EOF at the end
	empties    int
	token      []byte
	// whole says buf is all the input, read in place (NewBytesReader).
	whole bool
	// read counts the bytes read from in, for Offset.
	read int64

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
	// An export record longer than MaxLine is skipped as it arrives
	// (skipExport), then counted as one bad record. skipRec says the
	// record is being skipped; within it, skip bytes of a binary field
	// (and its '\n') are still to be dropped, skipLen bytes of a binary
	// field's length (lenAcc holds the others), or skipLine says the rest
	// of a field's line goes, skipEq that it had an '=' (a text field).
	skip     uint64
	lenAcc   uint64
	skipLen  uint8
	skipRec  bool
	skipLine bool
	skipEq   bool
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
	rd := &Reader{in: r, buf: make([]byte, min(256*1024, opts.MaxLine)), p: NewParser(), opts: opts, st: opts.Stream}
	if rd.st == nil {
		rd.st = new(Stream)
	}
	rd.p.Only(opts.Only...)
	return rd
}

// NewBytesReader returns a Reader of data, all of the input, which it
// reads in place instead of copying it into a buffer: events alias data.
// data must not change while it is read. It reads what NewReader reads of
// the same bytes, with the same limits (MaxLine) and the same errors.
func NewBytesReader(data []byte, opts ReaderOptions) *Reader {
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	rd := &Reader{buf: data, end: len(data), rerr: io.EOF, whole: true, p: NewParser(), opts: opts, st: opts.Stream}
	if rd.st == nil {
		rd.st = new(Stream)
	}
	rd.p.Only(opts.Only...)
	return rd
}

// Offset returns how many bytes of the input the Reader has consumed:
// those of the lines (records) it has returned or skipped. For
// NewBytesReader, data[Offset():] is what it has not read yet.
func (r *Reader) Offset() int64 {
	if r.whole {
		return int64(r.start)
	}
	return r.read - int64(r.end-r.start)
}

// scan advances to the next token, as bufio.Scanner.Scan does with split
// and a buffer of at most MaxLine bytes (so that a line longer than that
// is seen the same way), but finds a text line itself, without an
// indirect call per line. The token is r.token.
func (r *Reader) scan() bool {
	for {
		if r.end > r.start || r.rerr != nil {
			data := r.buf[r.start:r.end]
			if r.probed && !r.export && !r.inLong { // splitLine's common case
				if i := bytes.IndexByte(data, '\n'); i >= 0 {
					r.tok, r.token, r.start = tokLine, data[:i], r.start+i+1
					if r.whole && i >= r.opts.MaxLine {
						// What a buffer of MaxLine bytes holds of it: the
						// head of an over-long line (the rest is skipped).
						r.tok, r.token = tokLongHead, data[:r.opts.MaxLine]
					}
					return true
				}
			}
			if r.whole && !r.probed && bytes.HasPrefix(data, exportMagic) {
				// A journal export stream: read through a buffer, whose
				// bound on a record's length (MaxLine) is part of how
				// export records are read.
				r.in, r.whole = bytes.NewReader(data), false
				r.buf, r.start, r.end, r.rerr = make([]byte, min(256*1024, r.opts.MaxLine)), 0, 0, nil
				continue
			}
			adv, tok, _ := r.split(data, r.rerr != nil) // split returns no errors
			r.start += adv
			if tok != nil {
				if r.rerr == nil || adv > 0 {
					r.empties = 0
				} else if r.empties++; r.empties > 100 {
					panic("auditlog: too many empty tokens without progress")
				}
				r.token = tok
				return true
			}
		}
		if r.rerr != nil {
			if !r.whole {
				r.start, r.end = 0, 0
			}
			return false
		}
		// Make room: move the data to the front, or grow the buffer up
		// to MaxLine (split returns a full buffer of text as one token).
		if r.start > 0 && (r.end == len(r.buf) || r.start > len(r.buf)/2) {
			copy(r.buf, r.buf[r.start:r.end])
			r.end -= r.start
			r.start = 0
		}
		if r.end == len(r.buf) {
			if len(r.buf) >= r.opts.MaxLine {
				r.setErr(bufio.ErrTooLong)
				return false
			}
			nb := make([]byte, min(2*len(r.buf), r.opts.MaxLine))
			copy(nb, r.buf[r.start:r.end])
			r.buf, r.end, r.start = nb, r.end-r.start, 0
		}
		for loop := 0; ; {
			n, err := r.in.Read(r.buf[r.end:])
			if n < 0 || len(r.buf)-r.end < n {
				r.setErr(bufio.ErrBadReadCount)
				break
			}
			r.end += n
			r.read += int64(n)
			if err != nil {
				r.setErr(err)
				break
			}
			if n > 0 {
				r.empties = 0
				break
			}
			if loop++; loop > 100 {
				r.setErr(io.ErrNoProgress)
				break
			}
		}
	}
}

func (r *Reader) setErr(err error) {
	if r.rerr == nil {
		r.rerr = err
	}
}

// Next advances to the next AppArmor event, which Event returns. It returns
// false at the end of the input or on a read error (see Err).
func (r *Reader) Next() bool {
	for r.scan() {
		tok := r.token
		if r.tok == tokLongRest {
			continue
		}
		r.line++
		r.st.Stats.Lines++
		if r.tok == tokLongHead {
			msg := "line longer than " + strconv.Itoa(r.opts.MaxLine) + " bytes, skipped"
			if r.export {
				msg = "journal export record longer than " + strconv.Itoa(r.opts.MaxLine) + " bytes, skipped"
			}
			r.bad(&SyntaxError{Col: r.opts.MaxLine, Msg: msg})
			continue
		}
		var err error
		if r.export {
			err = r.p.ParseExport(tok, &r.ev)
		} else {
			err = r.p.parse(tok, &r.ev, true) // split at newlines
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
		if r.ev.Kind == KindRejected && r.opts.OnRejected != nil {
			r.opts.OnRejected(&RejectedError{File: r.opts.Name, Line: r.line, Reason: r.ev.Rejected})
		}
	}
	if r.rerr != io.EOF {
		r.err = r.rerr
	}
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
	exportMagic = []byte("__CURSOR=")
	emptyToken  = []byte{}
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
		if r.whole && i >= r.opts.MaxLine && r.tok == tokLine {
			// In place (the first line, read before the probe): what
			// a buffer of MaxLine bytes holds of it, as scan does.
			r.tok = tokLongHead
			return i + 1, data[:r.opts.MaxLine], nil
		}
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
//
// A record that does not end within MaxLine bytes (counted from its first
// byte, as a text line's are) is not held in memory: skipExport drops its
// fields as they arrive, and the blank line that ends it (or the end of
// the input) becomes one tokLongHead token, as an over-long text line
// does. A binary field of MaxLine bytes or more says so at once.
func (r *Reader) splitExport(data []byte, atEOF bool) (int, []byte, error) {
	if r.skipRec {
		return r.skipExport(data, atEOF)
	}
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
		if n >= uint64(len(data)-j-8) { // the field and its newline are not all here
			if n >= uint64(r.opts.MaxLine) { // nor will they ever be
				r.skipRec = true
				adv, tok, err := r.skipExport(data[start:], atEOF)
				return start + adv, tok, err
			}
			break
		}
		i = j + 8 + int(n) + 1
	}
	if start == 0 && len(data) >= r.opts.MaxLine {
		// The record goes on past MaxLine bytes. (With blank lines
		// before it, those go first: then it is looked at from its
		// first byte with a full buffer, however the input arrived.)
		r.skipRec = true
		return r.skipExport(data, atEOF)
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

// skipExport drops the bytes of a record being skipped, field by field,
// without holding them, up to the blank line that ends it: that line, or
// the end of the input, is the record's one token (tokLongHead), returned
// at once at the end of the input, where the Scanner calls no split after
// a tokenless advance.
func (r *Reader) skipExport(data []byte, atEOF bool) (int, []byte, error) {
	i := 0
	for i < len(data) {
		switch {
		case r.skip > 0: // a binary field's data and its '\n'
			n := min(r.skip, uint64(len(data)-i))
			r.skip -= n
			i += int(n)
		case r.skipLen > 0: // a binary field's length, little-endian
			r.lenAcc |= uint64(data[i]) << (8 * (8 - r.skipLen))
			r.skipLen--
			i++
			if r.skipLen == 0 {
				r.skip, r.lenAcc = max(r.lenAcc+1, r.lenAcc), 0 // +1 overflows for the largest length
			}
		case r.skipLine: // the rest of a field's first line
			nl := bytes.IndexByte(data[i:], '\n')
			if nl < 0 {
				r.skipEq = r.skipEq || bytes.IndexByte(data[i:], '=') >= 0
				i = len(data)
				break
			}
			if !r.skipEq && bytes.IndexByte(data[i:i+nl], '=') < 0 {
				r.skipLen = 8 // NAME\n of a binary field: its length follows
			}
			r.skipLine, i = false, i+nl+1
		case data[i] == '\n': // the blank line after the last field
			r.skipRec, r.tok = false, tokLongHead
			return i + 1, emptyToken, nil
		default: // the next field
			r.skipLine, r.skipEq = true, false
		}
	}
	if atEOF { // the input ends inside the record
		r.skip, r.lenAcc, r.skipLen, r.skipRec, r.skipLine, r.skipEq = 0, 0, 0, false, false, false
		r.tok = tokLongHead
		return len(data), emptyToken, nil
	}
	return len(data), nil, nil
}
