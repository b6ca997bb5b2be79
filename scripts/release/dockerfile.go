package main

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"mvdan.cc/sh/v3/syntax"
)

// imagePlan is what a Dockerfile asks for, in the terms of a build without
// a container daemon: a Debian suite and packages for the base layer
// (debootstrap stands in for FROM debian:SUITE and RUN apt-get install),
// paths the RUN lines delete, files to copy as layers, and the config.
type imagePlan struct {
	Suite    string
	Packages []string
	Removed  []string // absolute globs from RUN rm -rf, left out of the base layer
	Copies   []copyStep
	Config   v1.Config
}

type copyStep struct {
	Src  string      // relative to the build context
	Dest string      // absolute path in the image
	Mode os.FileMode // 0: the source file's mode
}

// debianPath is the PATH of Debian's official images.
const debianPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// readDockerfile interprets the subset of the Dockerfile language that a
// daemonless build can reproduce faithfully, and rejects the rest with the
// instruction's line, rather than build an image that differs from it.
func readDockerfile(name string, src []byte) (*imagePlan, error) {
	ast, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	stages, metaArgs, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(metaArgs) > 0 || len(stages) != 1 {
		return nil, fmt.Errorf("%s: want exactly one stage and no ARG before FROM", name)
	}
	st := stages[0]
	at := func(c instructions.Command) string {
		if l := c.Location(); len(l) > 0 {
			return fmt.Sprintf("%s:%d", name, l[0].Start.Line)
		}
		return name
	}
	p := &imagePlan{Config: v1.Config{Env: []string{debianPath}}}
	repo, tag, _ := strings.Cut(st.BaseName, ":")
	if repo != "debian" || tag == "" {
		return nil, fmt.Errorf("%s: FROM %s: only debian:SUITE[-slim] can be made with debootstrap", name, st.BaseName)
	}
	p.Suite = strings.TrimSuffix(tag, "-slim")
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.RunCommand:
			if !c.PrependShell || len(c.CmdLine) != 1 || len(c.FlagsUsed) > 0 {
				return nil, fmt.Errorf("%s: RUN: only the shell form without flags is supported", at(c))
			}
			if err := p.run(c.CmdLine[0]); err != nil {
				return nil, fmt.Errorf("%s: RUN: %w", at(c), err)
			}
		case *instructions.CopyCommand:
			if c.From != "" || c.Chown != "" || c.Link || c.Parents || len(c.ExcludePatterns) > 0 || len(c.SourcePaths) != 1 {
				return nil, fmt.Errorf("%s: COPY: only COPY [--chmod=MODE] SRC DEST is supported", at(c))
			}
			step := copyStep{Src: c.SourcePaths[0], Dest: c.DestPath}
			if strings.HasSuffix(step.Dest, "/") {
				step.Dest += path.Base(step.Src)
			}
			if !path.IsAbs(step.Dest) {
				return nil, fmt.Errorf("%s: COPY: destination %q must be absolute", at(c), c.DestPath)
			}
			if c.Chmod != "" {
				m, err := strconv.ParseUint(c.Chmod, 8, 32)
				if err != nil || m > 0o7777 {
					return nil, fmt.Errorf("%s: COPY --chmod=%s: want an octal mode", at(c), c.Chmod)
				}
				step.Mode = os.FileMode(m)
			}
			p.Copies = append(p.Copies, step)
		case *instructions.UserCommand:
			p.Config.User = c.User
		case *instructions.WorkdirCommand:
			p.Config.WorkingDir = c.Path
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				p.Config.Env = slices.DeleteFunc(p.Config.Env, func(e string) bool { return strings.HasPrefix(e, kv.Key+"=") })
				p.Config.Env = append(p.Config.Env, kv.Key+"="+kv.Value)
			}
		case *instructions.LabelCommand:
			if p.Config.Labels == nil {
				p.Config.Labels = map[string]string{}
			}
			for _, kv := range c.Labels {
				p.Config.Labels[kv.Key] = kv.Value
			}
		case *instructions.EntrypointCommand:
			p.Config.Entrypoint = cmdLine(c.ShellDependantCmdLine)
			p.Config.Cmd = nil // as docker build: a later ENTRYPOINT resets CMD
		case *instructions.CmdCommand:
			p.Config.Cmd = cmdLine(c.ShellDependantCmdLine)
		default:
			return nil, fmt.Errorf("%s: %s is not supported by the daemonless build", at(c), strings.ToUpper(c.Name()))
		}
	}
	return p, nil
}

func cmdLine(c instructions.ShellDependantCmdLine) []string {
	if c.PrependShell {
		return []string{"/bin/sh", "-c", strings.Join(c.CmdLine, " ")}
	}
	return c.CmdLine
}

// run interprets a RUN line: commands joined by && (or ;), each one of
// apt-get update, apt-get install -y --no-install-recommends PKG..., and
// rm -rf PATH.... Anything else could not be reproduced without running it.
func (p *imagePlan) run(script string) error {
	f, err := syntax.NewParser().Parse(strings.NewReader(script), "")
	if err != nil {
		return err
	}
	var calls [][]string
	var bad error
	syntax.Walk(f, func(n syntax.Node) bool {
		if bad != nil {
			return false
		}
		switch n := n.(type) {
		case nil: // Walk's end-of-children call
		case *syntax.BinaryCmd:
			if n.Op != syntax.AndStmt {
				bad = fmt.Errorf("%q: only && joins commands here", n.Op)
			}
		case *syntax.Stmt:
			if n.Negated || n.Background || n.Coprocess || len(n.Redirs) > 0 {
				bad = fmt.Errorf("only plain commands are supported")
			}
		case *syntax.CallExpr:
			if len(n.Assigns) > 0 {
				bad = fmt.Errorf("variable assignments are not supported")
				return false
			}
			var argv []string
			for _, w := range n.Args {
				lit := w.Lit()
				if lit == "" {
					// rm's globs are the one non-literal word allowed.
					var sb strings.Builder
					if err := syntax.NewPrinter().Print(&sb, w); err != nil || strings.ContainsAny(sb.String(), "$`\"'") {
						bad = fmt.Errorf("word %q: only literal words and globs", sb.String())
						return false
					}
					lit = sb.String()
				}
				argv = append(argv, lit)
			}
			calls = append(calls, argv)
			return false
		case *syntax.File, *syntax.Word, *syntax.Lit, *syntax.Comment:
		default:
			bad = fmt.Errorf("%T is not supported", n)
		}
		return bad == nil
	})
	if bad != nil {
		return bad
	}
	for _, argv := range calls {
		if err := p.call(argv); err != nil {
			return err
		}
	}
	return nil
}

func (p *imagePlan) call(argv []string) error {
	switch argv[0] {
	case "apt-get", "apt":
		var sub string
		var pkgs []string
		noRecommends := false
		for _, a := range argv[1:] {
			switch {
			case a == "-y" || a == "-q" || a == "-qq" || a == "--yes" || a == "--quiet":
			case a == "--no-install-recommends":
				noRecommends = true
			case strings.HasPrefix(a, "-"):
				return fmt.Errorf("apt-get %s: option not supported", a)
			case sub == "":
				sub = a
			default:
				pkgs = append(pkgs, a)
			}
		}
		switch sub {
		case "update":
		case "install":
			// debootstrap --include installs dependencies, never recommends.
			if !noRecommends {
				return fmt.Errorf("apt-get install: needs --no-install-recommends (debootstrap installs no recommends)")
			}
			if len(pkgs) == 0 {
				return fmt.Errorf("apt-get install: no packages")
			}
			p.Packages = append(p.Packages, pkgs...)
		default:
			return fmt.Errorf("apt-get %s: only update and install are supported", sub)
		}
	case "rm":
		for _, a := range argv[1:] {
			switch {
			case a == "-rf" || a == "-fr" || a == "-r" || a == "-f":
			case strings.HasPrefix(a, "-"):
				return fmt.Errorf("rm %s: option not supported", a)
			case !path.IsAbs(a):
				return fmt.Errorf("rm %s: only absolute paths", a)
			default:
				p.Removed = append(p.Removed, path.Clean(a))
			}
		}
	default:
		return fmt.Errorf("%s: only apt-get and rm can run in the daemonless build", argv[0])
	}
	return nil
}
