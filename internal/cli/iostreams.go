package cli

import (
	"bytes"
	"io"
	"os"
)

// IOStreams are a command's standard streams: data goes to Out, messages
// for people to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdoutTTY bool
}

// System returns the process's own streams.
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if fi, err := os.Stdout.Stat(); err == nil {
		s.stdoutTTY = fi.Mode()&os.ModeCharDevice != 0
	}
	return s
}

// TestStreams returns streams backed by buffers, for tests.
func TestStreams() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// IsStdoutTTY reports whether Out is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// ColorEnabled reports whether colour output is appropriate.
func (s *IOStreams) ColorEnabled() bool { return s.stdoutTTY && os.Getenv("NO_COLOR") == "" }
