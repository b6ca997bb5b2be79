// Package oracle runs the real apparmor_parser as a test oracle: Debian 12's
// 3.0.8 from the host and Debian 13's 4.1, unpacked from the trixie packages
// and started through their own dynamic loader (see DESIGN.md, "Real
// components"). Nothing is loaded into a kernel: every call uses -QK.
//
// Each parser gets its own, matching /etc/apparmor.d tree (the host's for
// 3.0, the one inside the trixie apparmor package for 4.1), an empty
// --config-file so /etc/apparmor/parser.conf cannot change the result, and an
// explicit -I and --base.
//
// Tests use it like this:
//
//	p := oracle.Require(t, "4.1") // or Find(ctx, "4.1") outside tests
//	ok, stderr, err := p.Validate(ctx, []byte(text), nil)
package oracle

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/armorer-dev/armorer/internal/parsernoise"
	"github.com/armorer-dev/armorer/internal/parserrun"
)

// Parser is one runnable apparmor_parser, started by internal/parserrun as
// production's host.Parser is.
type Parser struct {
	// Version is the full version the parser reports, e.g. "3.0.8" or "4.1.0".
	Version string
	// Argv is the command prefix that starts the parser (program and loader arguments).
	Argv []string
	// IncludeDir is the parser's own /etc/apparmor.d tree: tunables, abstractions, abi.
	IncludeDir string
	// ABI is the abi include that matches this parser, "abi/3.0" or "abi/4.0".
	ABI string

	configFile string // an empty parser.conf
	endMarker  string // a file holding only the profile endMarkerName (see CompileFiles)
}

// HostParser is where Debian installs apparmor_parser.
const HostParser = "/usr/sbin/apparmor_parser"

var (
	findMu    sync.Mutex
	findCache = map[string]*Parser{}
)

// Find returns the parser for a major.minor version: "3.0" is the host's
// /usr/sbin/apparmor_parser (which must report 3.0.x), "4.1" is Debian 13's,
// downloaded and unpacked once into debfetch's cache. Results are cached per
// process.
func Find(ctx context.Context, version string) (*Parser, error) {
	findMu.Lock()
	defer findMu.Unlock()
	if p, ok := findCache[version]; ok {
		return p, nil
	}
	var (
		p   *Parser
		err error
	)
	switch version {
	case "3.0":
		p = &Parser{Argv: []string{HostParser}, IncludeDir: "/etc/apparmor.d", ABI: "abi/3.0"}
	case "4.1":
		p, err = trixieParser(ctx)
	default:
		return nil, fmt.Errorf("oracle: unknown parser version %q (want 3.0 or 4.1)", version)
	}
	if err != nil {
		return nil, err
	}
	if err := p.init(ctx, version); err != nil {
		return nil, err
	}
	findCache[version] = p
	return p, nil
}

// Installed returns this machine's own apparmor_parser (from PATH, else
// HostParser), whatever its version, reading includeDir (normally
// /etc/apparmor.d). It serves armorer check --oracle.
func Installed(ctx context.Context, includeDir string) (*Parser, error) {
	path, err := exec.LookPath("apparmor_parser")
	if err != nil {
		path = HostParser
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("apparmor_parser not found (install the apparmor package): %w", err)
	}
	p := &Parser{Argv: []string{path}, IncludeDir: includeDir}
	if err := p.init(ctx, ""); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Parser) init(ctx context.Context, want string) error {
	out, _, err := parserrun.Run(ctx, append(slices.Clone(p.Argv), "--version"))
	if err != nil {
		return fmt.Errorf("oracle: %s --version: %w", strings.Join(p.Argv, " "), err)
	}
	v, ok := parseVersion(string(out))
	if !ok {
		return fmt.Errorf("oracle: %s --version printed %q, not a version", p.Argv[len(p.Argv)-1], firstLine(string(out)))
	}
	if want != "" && v != want && !strings.HasPrefix(v, want+".") {
		return fmt.Errorf("oracle: %s is apparmor_parser %s, want %s", p.Argv[len(p.Argv)-1], v, want)
	}
	p.Version = v
	if p.ABI == "" {
		p.ABI = "abi/3.0"
		if !strings.HasPrefix(v, "3.") {
			p.ABI = "abi/4.0"
		}
	}
	if _, err := os.Stat(filepath.Join(p.IncludeDir, p.ABI)); err != nil {
		return fmt.Errorf("oracle: apparmor_parser %s: its include tree lacks %s: %w", v, p.ABI, err)
	}
	dir, err := os.MkdirTemp("", "armorer-oracle-")
	if err != nil {
		return err
	}
	p.configFile = filepath.Join(dir, "parser.conf")
	if err := os.WriteFile(p.configFile, nil, 0o644); err != nil {
		return err
	}
	p.endMarker = filepath.Join(dir, "end-marker")
	return os.WriteFile(p.endMarker, []byte("profile "+endMarkerName+" {}\n"), 0o644)
}

// parseVersion takes "AppArmor parser version 3.0.8" from --version output.
func parseVersion(out string) (string, bool) {
	const prefix = "AppArmor parser version "
	l := firstLine(out)
	if !strings.HasPrefix(l, prefix) {
		return "", false
	}
	return strings.TrimSpace(l[len(prefix):]), true
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// args returns the fixed options of every run: config, search path, base.
// includeDirs come first in the search path, then the parser's own tree.
func (p *Parser) args(includeDirs []string) []string {
	a := []string{"--config-file", p.configFile}
	for _, d := range includeDirs {
		a = append(a, "-I", d)
	}
	return append(a, "-I", p.IncludeDir, "--base", p.IncludeDir)
}

// Run runs the parser with the fixed options, then extra, and returns
// stdout and the filtered stderr. A non-zero exit is not an error: it is
// reported through ok. err is set only when the parser could not run.
func (p *Parser) Run(ctx context.Context, includeDirs []string, extra ...string) (ok bool, stdout []byte, stderr string, err error) {
	out, stderr, err := parserrun.Run(ctx, append(slices.Concat(p.Argv, p.args(includeDirs)), extra...))
	stderr = strings.TrimSpace(stderr)
	switch {
	case err == nil:
		return true, out, stderr, nil
	case ctx.Err() == nil && parserrun.Exited(err):
		return false, out, stderr, nil
	default:
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return false, out, stderr, fmt.Errorf("apparmor_parser %s: %w: %s", p.Version, err, stderr)
	}
}

// ValidateFile runs apparmor_parser -QK on a file: accepted is its verdict,
// stderr its messages (without the no-kernel noise line).
func (p *Parser) ValidateFile(ctx context.Context, path string, includeDirs []string) (accepted bool, stderr string, err error) {
	ok, _, stderr, err := p.Run(ctx, includeDirs, "-QK", path)
	return ok, stderr, err
}

// Validate writes text to a temporary file named profile and validates it.
func (p *Parser) Validate(ctx context.Context, text []byte, includeDirs []string) (accepted bool, stderr string, err error) {
	path, cleanup, err := tempProfile(text)
	if err != nil {
		return false, "", err
	}
	defer cleanup()
	return p.ValidateFile(ctx, path, includeDirs)
}

// CompileFile returns the compiled policy (-QK -S) of a file. The output
// is deterministic and independent of rule order and layout.
func (p *Parser) CompileFile(ctx context.Context, path string, includeDirs []string) ([]byte, error) {
	ok, out, stderr, err := p.Run(ctx, includeDirs, "-QK", "-S", path)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &RejectError{Version: p.Version, Stderr: stderr}
	}
	return out, nil
}

// Compile is CompileFile for text.
func (p *Parser) Compile(ctx context.Context, text []byte, includeDirs []string) ([]byte, error) {
	path, cleanup, err := tempProfile(text)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	return p.CompileFile(ctx, path, includeDirs)
}

// RejectError is returned by Compile when the parser rejects the policy.
type RejectError struct {
	Version string
	Stderr  string
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("apparmor_parser %s rejected the policy: %s", e.Version, e.Stderr)
}

func tempProfile(text []byte) (string, func(), error) {
	dir, err := os.MkdirTemp("", "armorer-oracle-")
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, "profile")
	if err := os.WriteFile(path, text, 0o644); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return path, func() { os.RemoveAll(dir) }, nil
}

// FilterStderr drops the line every parser prints when the kernel has no
// AppArmor, and trims the rest.
func FilterStderr(s string) string {
	return strings.TrimSpace(parsernoise.Filter(s))
}
