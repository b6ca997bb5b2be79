package source

import (
	"bytes"
	"errors"
	"strconv"
)

// kmsgHeader is the header of one /dev/kmsg record, as documented in the
// kernel's Documentation/ABI/testing/dev-kmsg:
//
//	prio,seq,usec,flags[,more];message\n[ KEY=VALUE\n]...
type kmsgHeader struct {
	Prio  uint64 // syslog facility<<3 | level
	Seq   uint64 // 64-bit sequence number, +1 per record; gaps mean lost records
	Usec  uint64 // monotonic timestamp in microseconds
	Flags byte   // '-', 'c' (continuation, old kernels) or '+'
	Msg   []byte // the message: the text after ';' up to the first '\n'
}

var errKmsgHeader = errors.New("malformed /dev/kmsg record header")

// parseKmsg parses the header of a /dev/kmsg record. It does not allocate;
// Msg aliases rec.
func parseKmsg(rec []byte) (kmsgHeader, error) {
	var h kmsgHeader
	semi := bytes.IndexByte(rec, ';')
	if semi < 0 {
		return h, errKmsgHeader
	}
	hdr := rec[:semi]
	if bytes.IndexByte(hdr, '\n') >= 0 {
		return h, errKmsgHeader
	}
	var fields [4][]byte
	for i := range fields {
		j := bytes.IndexByte(hdr, ',')
		if j < 0 {
			if i < 3 {
				return h, errKmsgHeader
			}
			j = len(hdr) // no extra fields after flags
		}
		fields[i] = hdr[:j]
		hdr = hdr[min(j+1, len(hdr)):]
	}
	var err error
	if h.Prio, err = parseDecimal(fields[0]); err != nil {
		return h, err
	}
	if h.Seq, err = parseDecimal(fields[1]); err != nil {
		return h, err
	}
	if h.Usec, err = parseDecimal(fields[2]); err != nil {
		return h, err
	}
	if len(fields[3]) != 1 {
		return h, errKmsgHeader
	}
	h.Flags = fields[3][0]
	msg := rec[semi+1:]
	if i := bytes.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	h.Msg = msg
	return h, nil
}

// parseDecimal parses an unsigned decimal number without sign or spaces.
func parseDecimal(b []byte) (uint64, error) {
	if len(b) == 0 || b[0] < '0' || b[0] > '9' {
		return 0, errKmsgHeader
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, errKmsgHeader
	}
	return n, nil
}
