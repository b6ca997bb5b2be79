package eventstore

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// ToAuditd turns one `armorer events --json` object into the auditd log
// line it stands for ("type=AVC msg=audit(SEC.MS:0): key=value …"), so
// that stored events are read back by the same parser as any log. Values
// that cannot be written quoted (quotes, control bytes, not UTF-8)
// are hex-encoded as the kernel does; a key's "<key>_hex" twin carries its
// exact bytes. The serial is written as 0: stored events are already
// distinct, and the reader must not merge two of them as copies of one.
func ToAuditd(obj []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	type pair struct {
		k, v string
		num  bool
	}
	var pairs []pair
	hexOf := map[string]string{}
	recType := "AVC"
	var stamp string = "0.000"
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("JSON: %w", err)
		}
		k, _ := kt.(string)
		vt, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("JSON: %w", err)
		}
		var v string
		num := false
		switch x := vt.(type) {
		case string:
			v = x
		case json.Number:
			v, num = x.String(), true
		case bool, nil:
			continue
		default:
			return nil, fmt.Errorf("key %q: value is not a string or a number", k)
		}
		switch k {
		case "time":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return nil, fmt.Errorf("time %q: %w", v, err)
			}
			stamp = fmt.Sprintf("%d.%03d", t.Unix(), t.Nanosecond()/1e6)
		case "type":
			if v != "" && strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") == "" {
				recType = v
			}
		case "serial", "node", "source", "line":
		default:
			if base, ok := strings.CutSuffix(k, "_hex"); ok {
				if _, err := hex.DecodeString(v); err != nil || v == "" {
					return nil, fmt.Errorf("key %q: %q is not hex", k, v)
				}
				hexOf[base] = v
				continue
			}
			if !validKey(k) {
				return nil, fmt.Errorf("key %q is not a log key", k)
			}
			pairs = append(pairs, pair{k, v, num})
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, errors.New("JSON object not closed")
	}
	if recType == "1400" || recType == "1107" {
		recType = map[string]string{"1400": "AVC", "1107": "USER_AVC"}[recType]
	}
	var b []byte
	b = append(b, "type="...)
	b = append(b, recType...)
	b = append(b, " msg=audit("...)
	b = append(b, stamp...)
	b = append(b, ":0):"...)
	for _, p := range pairs {
		b = append(b, ' ')
		b = append(b, p.k...)
		b = append(b, '=')
		if h, ok := hexOf[p.k]; ok {
			b = append(b, strings.ToUpper(h)...)
			continue
		}
		switch {
		case p.num:
			b = append(b, p.v...)
		case quotable(p.v):
			b = append(append(append(b, '"'), p.v...), '"')
		default:
			b = append(b, strings.ToUpper(hex.EncodeToString([]byte(p.v)))...)
		}
	}
	return b, nil
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// quotable reports whether v can be written in double quotes: valid
// UTF-8 without control bytes or double quotes (the kernel hex-encodes
// those; spaces are fine, as in info="failed perms check").
func quotable(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, c := range v {
		if c < ' ' || c == '"' || c == 0x7f {
			return false
		}
	}
	return true
}
