package auditlog

import (
	"encoding/hex"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the event as one JSON object (no newline), in the
// schema of DESIGN.md's CLI contract: "time" (UTC RFC 3339 with
// milliseconds, absent without a timestamp), "serial", "node", "type", then
// every field under the kernel's key name (requested=/denied= as
// requested_mask/denied_mask; a key written twice appears once, with its
// last value), then "source" and "line" (the journal cursor for journal
// records). Bare decimal values are JSON numbers; hex-encoded values are
// decoded, and a decoded value that is not UTF-8 also appears hex-encoded
// as "<key>_hex".
func (e *Event) AppendJSON(dst []byte, source string, line int64) []byte {
	dst = append(dst, '{')
	first := true
	key := func(k string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
	}
	if !e.Time.IsZero() {
		key("time")
		dst = append(dst, '"')
		dst = e.Time.Time().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
		dst = append(dst, '"')
	}
	if e.Serial != 0 {
		key("serial")
		dst = strconv.AppendUint(dst, e.Serial, 10)
	}
	if len(e.Node) > 0 {
		key("node")
		dst = appendJSONString(dst, e.Node)
	}
	if e.Type != 0 {
		key("type")
		dst = appendJSONString(dst, RecordTypeName(e.Type))
	}
	for i := range e.Fields {
		f := &e.Fields[i]
		if e.shadowed(i) {
			continue
		}
		v := e.decode(f)
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendFieldName(dst, f, "")
		dst = append(dst, ':')
		if f.Enc == EncBare && isJSONInt(v) {
			dst = append(dst, v...)
			continue
		}
		dst = appendJSONString(dst, v)
		if f.Enc == EncHex && !utf8.Valid(v) {
			dst = append(dst, ',')
			dst = appendFieldName(dst, f, "_hex")
			dst = append(dst, ':', '"')
			dst = hex.AppendEncode(dst, v)
			dst = append(dst, '"')
		}
	}
	if source != "" {
		key("source")
		dst = appendJSONString(dst, source)
	}
	key("line")
	if len(e.Cursor) > 0 {
		dst = appendJSONString(dst, e.Cursor)
	} else {
		dst = strconv.AppendInt(dst, line, 10)
	}
	return append(dst, '}')
}

// appendFieldName appends f's JSON name (the kernel's, or as written for
// keys armorer does not know) with suffix, quoted.
func appendFieldName(dst []byte, f *Field, suffix string) []byte {
	if f.Key != KeyNone {
		return appendJSONString(dst, keyInfos[f.Key].name+suffix)
	}
	dst = appendJSONString(dst, f.Name)
	dst = dst[:len(dst)-1] // reopen the string for the suffix
	dst = append(dst, suffix...)
	return append(dst, '"')
}

// sameName reports whether two fields have the same JSON name.
func sameName(a, b *Field) bool {
	switch {
	case a.Key != KeyNone && b.Key != KeyNone:
		return a.Key == b.Key
	case a.Key == KeyNone && b.Key == KeyNone:
		return string(a.Name) == string(b.Name)
	case a.Key != KeyNone:
		return keyInfos[a.Key].name == string(b.Name)
	default:
		return string(a.Name) == keyInfos[b.Key].name
	}
}

// shadowed reports whether a later field has the same JSON name.
func (e *Event) shadowed(i int) bool {
	for j := i + 1; j < len(e.Fields); j++ {
		if sameName(&e.Fields[i], &e.Fields[j]) {
			return true
		}
	}
	return false
}

// isJSONInt reports whether b is a decimal integer JSON accepts as written
// and that fits in 64 bits.
func isJSONInt(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || (len(b) > 1 && b[0] == '0') {
		return false
	}
	_, ok := parseUint(b)
	return ok
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune([]byte(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}
