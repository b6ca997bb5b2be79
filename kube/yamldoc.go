package kube

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// document is one document of a multi-document YAML stream: its bytes as
// written (so an untouched document is copied verbatim) and its node tree.
type document struct {
	raw  []byte
	line int        // the 1-based line of raw's first line in the stream
	node *yaml.Node // a DocumentNode; nil for an empty document
}

// PositionError is a problem at a place in the input.
type PositionError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *PositionError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// splitDocuments cuts a YAML stream at its "---" lines: by the YAML spec
// a line starting with "---" and a space or its end is a document marker
// wherever it stands (a block scalar cannot hold one at column 0).
func splitDocuments(file string, src []byte) ([]document, error) {
	var docs []document
	start, startLine, line := 0, 1, 1
	flush := func(end int) error {
		raw := src[start:end]
		d := document{raw: raw, line: startLine}
		var n yaml.Node
		if err := yaml.Unmarshal(raw, &n); err != nil {
			return yamlError(file, startLine, err)
		}
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			d.node = &n
		}
		docs = append(docs, d)
		return nil
	}
	for i := 0; i < len(src); {
		j := bytes.IndexByte(src[i:], '\n')
		next := len(src)
		if j >= 0 {
			next = i + j + 1
		}
		l := src[i:next]
		if i > 0 && isMarker(l) {
			if err := flush(i); err != nil {
				return nil, err
			}
			start, startLine = i, line
		}
		i = next
		line++
	}
	if err := flush(len(src)); err != nil {
		return nil, err
	}
	return docs, nil
}

func isMarker(l []byte) bool {
	if !bytes.HasPrefix(l, []byte("---")) {
		return false
	}
	rest := l[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r'
}

// yamlError turns a yaml.v3 error ("yaml: line N: msg") into one at the
// stream's line.
func yamlError(file string, offset int, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
		_, rest, _ := strings.Cut(msg, ":")
		return &PositionError{File: file, Line: offset + line - 1, Col: 1, Msg: "invalid YAML:" + rest}
	}
	return &PositionError{File: file, Line: offset, Col: 1, Msg: "invalid YAML: " + msg}
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// get returns the value of key in mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return resolve(m.Content[i+1])
		}
	}
	return nil
}

// str returns the scalar value of key in m, or "".
func str(m *yaml.Node, key string) string {
	v := get(m, key)
	if v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Value
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Value == "" || n.Value == "~" || n.Value == "null")
}

// mapping returns the mapping under key in m, creating it when absent or
// null. A value of another kind is an error at its position.
func (e *editor) mapping(m *yaml.Node, key string) (*yaml.Node, error) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != key {
			continue
		}
		v := resolve(m.Content[i+1])
		switch {
		case v.Kind == yaml.MappingNode:
			return v, nil
		case isNull(v):
			nm := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", LineComment: v.LineComment}
			m.Content[i+1] = nm
			e.changed = true
			return nm, nil
		}
		return nil, e.errorAt(v, "%s is not a mapping", key)
	}
	nm := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, nm)
	e.changed = true
	return nm, nil
}

// setScalar sets key in m to a string.
func (e *editor) setScalar(m *yaml.Node, key, value string) {
	if setScalar(m, key, value) {
		e.changed = true
	}
}

// setScalar sets key in m to a string, reporting whether it changed.
func setScalar(m *yaml.Node, key, value string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != key {
			continue
		}
		v := m.Content[i+1]
		if v.Kind == yaml.ScalarNode && v.Value == value && v.Tag != "!!null" {
			return false
		}
		m.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value, LineComment: v.LineComment}
		return true
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
	return true
}

// deleteKey removes key from m, reporting whether it was there.
func deleteKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return true
		}
	}
	return false
}

// editor carries the file and line offset of the document being worked on.
type editor struct {
	file    string
	line    int
	changed bool // the document's tree differs from its text
}

func (e *editor) pos(n *yaml.Node) (int, int) { return e.line + n.Line - 1, n.Column }

func (e *editor) errorAt(n *yaml.Node, format string, args ...any) error {
	l, c := e.pos(n)
	return &PositionError{File: e.file, Line: l, Col: c, Msg: fmt.Sprintf(format, args...)}
}
