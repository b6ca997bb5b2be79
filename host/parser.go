package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/armorer-dev/armorer/internal/parserrun"
	"github.com/armorer-dev/armorer/policy"
)

// Parser runs apparmor_parser, always with an argv and never through a
// shell; its stderr becomes part of the error.
type Parser struct {
	// Program is a path or a name looked up in PATH, /usr/sbin and /sbin;
	// empty means "apparmor_parser".
	Program string
	// Args go before every other argument (--config-file, -I, --base).
	Args []string
	// KernelArgs go before the arguments of calls that talk to the
	// kernel (replace, remove): --subdomainfs for an injected securityfs.
	KernelArgs []string
}

// ParserError is a failed apparmor_parser run.
type ParserError struct {
	Op     string   // "validate", "replace", "remove", "names", "version"
	File   string   // the profile file, if any
	Argv   []string // the full command line
	Stderr string   // what the parser said, without its cache noise
	Err    error    // the exec error (*exec.ExitError, or a start failure)
}

func (e *ParserError) Error() string {
	what := e.Op
	if e.File != "" {
		what += " " + e.File
	}
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = e.Err.Error()
	}
	if !strings.Contains(msg, "apparmor_parser") && !strings.Contains(msg, "AppArmor parser") {
		msg = "apparmor_parser: " + msg
	}
	return what + ": " + msg
}

func (e *ParserError) Unwrap() error { return e.Err }

// InvalidProfileError is a profile apparmor_parser refused to compile
// (validation with -QK failed): the input is wrong, not the environment.
type InvalidProfileError struct{ *ParserError }

func (e *InvalidProfileError) Unwrap() error { return e.ParserError }

// KernelError is a load, replace or remove that the kernel (or the
// parser, on the kernel's behalf) rejected after validation passed.
type KernelError struct{ *ParserError }

func (e *KernelError) Unwrap() error { return e.ParserError }

func (p *Parser) path() (string, error) {
	prog := p.Program
	if prog == "" {
		prog = "apparmor_parser"
	}
	if strings.ContainsRune(prog, filepath.Separator) {
		if _, err := os.Stat(prog); err != nil {
			return "", err
		}
		return prog, nil
	}
	if path, err := exec.LookPath(prog); err == nil {
		return path, nil
	}
	// Non-root users often lack sbin in PATH.
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if path := filepath.Join(dir, prog); isExecutable(path) {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s is not in PATH, /usr/sbin or /sbin", prog)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

func (p *Parser) run(ctx context.Context, op, file string, kernel bool, args ...string) (string, error) {
	prog, err := p.path()
	if err != nil {
		return "", &ParserError{Op: op, File: file, Err: err}
	}
	argv := append([]string{}, p.Args...)
	if kernel {
		argv = append(argv, p.KernelArgs...)
	}
	argv = append(argv, args...)
	stdout, stderr, err := parserrun.Run(ctx, append([]string{prog}, argv...))
	if err != nil {
		return string(stdout), &ParserError{Op: op, File: file, Argv: append([]string{prog}, argv...), Stderr: stderr, Err: err}
	}
	return string(stdout), nil
}

// Version returns the parser's version ("3.0.8").
func (p *Parser) Version(ctx context.Context) (string, error) {
	out, err := p.run(ctx, "version", "", false, "--version")
	if err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(out, "\n")
	f := strings.Fields(first)
	if len(f) == 0 {
		return "", &ParserError{Op: "version", Err: errors.New("empty --version output")}
	}
	return f[len(f)-1], nil
}

// LanguageVersion is the policy language version of the parser (3.x → 3.0,
// 4.x and later → 4.1), or zero when it does not run. A profile checked for
// this machine is checked for at least this version: Debian 13's abi 3.0
// profiles include abstractions that say abi 4.0, and its 4.1 parser
// compiles both.
func (p *Parser) LanguageVersion(ctx context.Context) policy.Version {
	v, err := p.Version(ctx)
	if err != nil {
		return policy.Version{}
	}
	switch {
	case strings.HasPrefix(v, "3."):
		return policy.V3_0
	case strings.HasPrefix(v, "4."), strings.HasPrefix(v, "5."):
		return policy.V4_1
	}
	return policy.Version{}
}

// Validate compiles file without loading it (-Q) and without the cache
// (-K). A profile the parser rejects is an *InvalidProfileError.
func (p *Parser) Validate(ctx context.Context, file string) error {
	_, err := p.run(ctx, "validate", file, false, "-QK", file)
	var pe *ParserError
	if errors.As(err, &pe) && isExit(pe.Err) {
		return &InvalidProfileError{pe}
	}
	return err
}

// Check validates file like Validate and returns the parser's verdict:
// accepted, and what it printed when it rejected file. err is set only
// when the parser could not run.
func (p *Parser) Check(ctx context.Context, file string) (accepted bool, stderr string, err error) {
	err = p.Validate(ctx, file)
	var ie *InvalidProfileError
	switch {
	case err == nil:
		return true, "", nil
	case errors.As(err, &ie):
		return false, strings.TrimSpace(ie.Stderr), nil
	}
	return false, "", err
}

// Names lists the profiles file defines, children as parent//child.
func (p *Parser) Names(ctx context.Context, file string) ([]string, error) {
	out, err := p.run(ctx, "names", file, false, "-N", "-K", file)
	var pe *ParserError
	if errors.As(err, &pe) && isExit(pe.Err) {
		return nil, &InvalidProfileError{pe}
	}
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// Replace loads file into the kernel, replacing profiles of the same names
// (-r), without the cache (-K). A rejection is a *KernelError.
func (p *Parser) Replace(ctx context.Context, file string) error {
	return kernelErr(p.run(ctx, "replace", file, true, "-r", "-K", file))
}

// Remove unloads the profiles file defines (-R).
func (p *Parser) Remove(ctx context.Context, file string) error {
	return kernelErr(p.run(ctx, "remove", file, true, "-R", "-K", file))
}

func kernelErr(_ string, err error) error {
	var pe *ParserError
	if errors.As(err, &pe) && isExit(pe.Err) {
		return &KernelError{pe}
	}
	return err
}

func isExit(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee)
}
