package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/learn"
	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/skeleton"
	"github.com/spf13/cobra"
)

type newOptions struct {
	IO       *IOStreams
	Host     func() (*host.Host, error)
	Ctx      context.Context
	Binary   string
	Name     string
	Write    bool
	Complain bool
	ABI      string
	Unit     string // new_unit.go

	hostFlags // --dir, --state-dir, --no-load
}

func newNewCmd(f *Factory, runF func(*newOptions) error) *cobra.Command {
	opts := &newOptions{IO: f.IO}
	opts.Host = f.hostFor(&opts.hostFlags)
	cmd := &cobra.Command{
		Use:   "new BINARY | new --unit UNIT [PROGRAM]",
		Short: "Write a first profile for a program",
		Long: `Write a first profile for a program: its attachment path, abstractions/base,
the program itself (mr), its ELF loader and shared libraries (mr, found like
the dynamic loader does: run path, /etc/ld.so.cache, the multiarch
directories), or for a script its interpreter (through #!/usr/bin/env NAME
and wrapper scripts that exec one program) with the interpreter's abstraction
(abstractions/python, perl, ruby, bash, php, as aa-autodep chooses them, when
the profile directory has it), and include if exists <local/NAME> as the last
rule. A version manager's shim (pyenv, rbenv, asdf) chooses the interpreter
when it runs: new refuses it and says to name the real one.

The profile goes to stdout, or with --write into the profile directory under
aa-autodep's file name (/opt/myapp/bin/myapp → opt.myapp.bin.myapp). Use
--complain to start learning; without an abi line the kernel would neither
mediate nor log network access, so one is always written.`,
		GroupID: "profile",
		Args:    newArgs(opts),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			if len(args) > 0 {
				opts.Binary = args[0]
			}
			if err := learn.ValidABI(opts.ABI); err != nil {
				return &FlagError{Err: err}
			}
			if runF != nil {
				return runF(opts)
			}
			if opts.Unit != "" {
				return newUnitRun(opts)
			}
			return newRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "profile name (default: the binary's base name)")
	cmd.Flags().BoolVar(&opts.Write, "write", false, "write the profile into the profile directory instead of stdout")
	addHostFlags(cmd, &opts.hostFlags, "") // new --write never loads
	cmd.Flags().BoolVar(&opts.Complain, "complain", false, "put the profile in complain mode (flags=(complain))")
	cmd.Flags().StringVar(&opts.ABI, "abi", "3.0", "policy ABI: 3.0 or 4.0")
	cmd.Flags().StringVar(&opts.Unit, "unit", "", "a profile without attachment for systemd `UNIT` (interpreted services), and a drop-in with AppArmorProfile=")
	return cmd
}

func newRun(o *newOptions) error {
	x, err := skeleton.Inspect(o.Binary, skeleton.InspectOptions{})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &FlagError{Err: err}
		}
		return &FoundError{Msg: err.Error()}
	}
	for _, m := range x.Missing {
		fmt.Fprintf(o.IO.ErrOut, "armorer: warning: %s needs %s, which was not found; add a rule for it by hand or learn it\n", x.Path, m)
	}
	// Leave out what abstractions/base allows, when the include path has it.
	h, err := o.Host()
	if err != nil {
		return &EnvError{Err: err}
	}
	dir := o.Dir
	if dir == "" {
		dir = h.Paths.ProfileDir
	}
	base, err := learn.AbstractionCoverage(host.OpenProfileSet(dir), "abstractions/base")
	if err != nil {
		base = nil // without the include path's base, list every library
	}
	var buf bytes.Buffer
	hasAbstraction := func(name string) bool {
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name)))
		return err == nil && fi.Mode().IsRegular()
	}
	if a := skeleton.ScriptAbstraction(x); a != "" && !hasAbstraction(a) {
		fmt.Fprintf(o.IO.ErrOut, "armorer: warning: %s is not in %s: the profile does not include it; learn adds what the interpreter reads\n", a, dir)
	}
	sk := skeleton.Profile(x, skeleton.Options{Name: o.Name, ABI: o.ABI, Complain: o.Complain, Base: base, HasAbstraction: hasAbstraction})
	if err := policy.Format(&buf, nil, sk.File()); err != nil {
		return err
	}
	if !o.Write {
		_, err := o.IO.Out.Write(buf.Bytes())
		return err
	}
	target := filepath.Join(dir, learn.ProfileFileName(x.Path))
	if _, err := os.Lstat(target); err == nil {
		return &FoundError{Msg: fmt.Sprintf("%s already exists: update it with armorer learn, or remove it first", target)}
	}
	w := &profileWriter{ctx: o.Ctx, host: o.Host, dir: dir}
	return w.write(o.IO, []learn.Change{{Path: target, New: buf.Bytes()}})
}

// profileDir is --dir, else the profile directory of the factory's host
// (which $ARMORER_PROFILE_DIR moves).
func profileDir(h func() (*host.Host, error), flag string) string {
	if flag != "" {
		return flag
	}
	if h != nil {
		if hh, err := h(); err == nil {
			return hh.Paths.ProfileDir
		}
	}
	return HostPathsFromEnv().ProfileDir
}
