package cli

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/armorer-dev/armorer/lint"
)

// IOStreams are a command's standard streams: data goes to Out, messages
// for people to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdoutTTY, stderrTTY bool
	// noColor: NO_COLOR is set (https://no-color.org: any non-empty
	// value) or TERM=dumb.
	noColor bool
}

// EnvForceTTY makes armorer treat stdout and stderr as terminals (for
// tests of colour and progress output, as gh's GH_FORCE_TTY).
const EnvForceTTY = "ARMORER_FORCE_TTY"

// System returns the process's own streams.
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	s.stdoutTTY = term.IsTerminal(int(os.Stdout.Fd()))
	s.stderrTTY = term.IsTerminal(int(os.Stderr.Fd()))
	if os.Getenv(EnvForceTTY) != "" {
		s.stdoutTTY, s.stderrTTY = true, true
	}
	s.noColor = os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb"
	return s
}

// TestStreams returns streams backed by buffers, for tests.
func TestStreams() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// SetTTY says whether stdout and stderr are terminals (tests).
func (s *IOStreams) SetTTY(stdout, stderr bool) { s.stdoutTTY, s.stderrTTY = stdout, stderr }

// IsStdoutTTY reports whether Out is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether ErrOut is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// ColorEnabled reports whether colour output is appropriate on Out.
func (s *IOStreams) ColorEnabled() bool { return s.stdoutTTY && !s.noColor }

// ColorScheme colours what goes to Out; ErrColorScheme what goes to ErrOut.
func (s *IOStreams) ColorScheme() *ColorScheme { return &ColorScheme{on: s.ColorEnabled()} }

// ErrColorScheme colours messages on ErrOut.
func (s *IOStreams) ErrColorScheme() *ColorScheme { return &ColorScheme{on: s.stderrTTY && !s.noColor} }

// ColorScheme wraps text in ANSI colours when they are enabled, and
// returns it unchanged otherwise: pipes and files never get escapes.
type ColorScheme struct{ on bool }

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
	ansiBoldRd = "\x1b[1;31m"
)

func (c *ColorScheme) wrap(code, s string) string {
	if !c.on || s == "" {
		return s
	}
	return code + s + ansiReset
}

// Enabled says whether c colours.
func (c *ColorScheme) Enabled() bool { return c.on }

func (c *ColorScheme) Red(s string) string    { return c.wrap(ansiRed, s) }
func (c *ColorScheme) Green(s string) string  { return c.wrap(ansiGreen, s) }
func (c *ColorScheme) Yellow(s string) string { return c.wrap(ansiYellow, s) }
func (c *ColorScheme) Bold(s string) string   { return c.wrap(ansiBold, s) }

// Denied is the word DENIED of simulate's and events' lines.
func (c *ColorScheme) Denied(s string) string { return c.wrap(ansiBoldRd, s) }

// Severity colours s by a finding's severity: high red, medium yellow,
// low cyan.
func (c *ColorScheme) Severity(sev lint.Severity, s string) string {
	switch sev {
	case lint.SeverityHigh:
		return c.wrap(ansiRed, s)
	case lint.SeverityMedium:
		return c.wrap(ansiYellow, s)
	default:
		return c.wrap(ansiCyan, s)
	}
}

// Diff colours a unified diff: file headers bold, hunks cyan, removed
// lines red, added lines green.
func (c *ColorScheme) Diff(d []byte) []byte {
	if !c.on || len(d) == 0 {
		return d
	}
	var b bytes.Buffer
	for line := range bytes.Lines(d) {
		body, nl := bytes.CutSuffix(line, []byte("\n"))
		code := ""
		switch {
		case bytes.HasPrefix(body, []byte("+++ ")), bytes.HasPrefix(body, []byte("--- ")):
			code = ansiBold
		case bytes.HasPrefix(body, []byte("@@")):
			code = ansiCyan
		case bytes.HasPrefix(body, []byte("+")):
			code = ansiGreen
		case bytes.HasPrefix(body, []byte("-")):
			code = ansiRed
		}
		if code != "" && len(body) > 0 {
			b.WriteString(code)
			b.Write(body)
			b.WriteString(ansiReset)
		} else {
			b.Write(body)
		}
		if nl {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
