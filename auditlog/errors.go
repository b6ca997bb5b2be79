package auditlog

import "strconv"

// SyntaxError reports a line that looks like an AppArmor audit record but
// cannot be read. Col is the 1-based byte column in the line; Line is the
// 1-based line number when a Reader knows it (0 from Parser.Parse), and
// File the source name when known.
type SyntaxError struct {
	File string
	Line int64
	Col  int
	Msg  string
}

func (e *SyntaxError) Error() string {
	b := appendPos(make([]byte, 0, 64), e.File, e.Line)
	b = strconv.AppendInt(b, int64(e.Col), 10)
	b = append(b, ": "...)
	b = append(b, e.Msg...)
	return string(b)
}

// RejectedError reports an AppArmor record that is no evidence because
// neither the kernel nor auditd wrote it (see KindRejected). File and Line
// locate it as in SyntaxError.
type RejectedError struct {
	File   string
	Line   int64
	Reason string
}

func (e *RejectedError) Error() string {
	b := appendPos(make([]byte, 0, 64), e.File, e.Line)
	if len(b) > 0 {
		b = append(b, ' ')
	}
	b = append(b, "rejected: "...)
	b = append(b, e.Reason...)
	return string(b)
}

// appendPos appends "FILE:LINE:", leaving out what is unknown.
func appendPos(b []byte, file string, line int64) []byte {
	if file != "" {
		b = append(b, file...)
		b = append(b, ':')
	}
	if line > 0 {
		b = strconv.AppendInt(b, line, 10)
		b = append(b, ':')
	}
	return b
}
