package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/learn"
	"github.com/armorer-dev/armorer/policy"
	"github.com/armorer-dev/armorer/skeleton"
	"github.com/spf13/cobra"
)

// DropInName is the drop-in armorer new --unit writes for a unit:
// /etc/systemd/system/UNIT.d/armorer-apparmor.conf.
const DropInName = "armorer-apparmor.conf"

// newUnitRun writes the profile of a systemd service that cannot be
// attached by path (python3 app.py, node, java: attaching to the
// interpreter would confine every program it runs): a profile without an
// attachment, for the program ExecStart= runs (or BINARY), and a drop-in
// that makes systemd apply it (AppArmorProfile=NAME).
func newUnitRun(o *newOptions) error {
	unit := o.Unit
	if !strings.Contains(unit, ".") {
		unit += ".service"
	}
	if strings.ContainsRune(unit, '/') {
		return usageErrorf("--unit %q: give a unit name, not a path", o.Unit)
	}
	h, err := o.Host()
	if err != nil {
		return &EnvError{Err: err}
	}
	dirs := h.Paths.SystemdDirs
	if len(dirs) == 0 {
		dirs = host.DefaultSystemdDirs
	}
	argv, unitFile, err := execStart(dirs, unit)
	if err != nil {
		return err
	}
	prog := o.Binary
	if prog == "" {
		prog = argv[0]
	}
	name := o.Name
	if name == "" {
		name = strings.TrimSuffix(unit, ".service")
	}
	x, err := skeleton.Inspect(prog, skeleton.InspectOptions{})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &FlagError{Err: fmt.Errorf("%s (ExecStart= of %s): %w", prog, unitFile, err)}
		}
		return &FoundError{Msg: err.Error()}
	}
	for _, m := range x.Missing {
		fmt.Fprintf(o.IO.ErrOut, "armorer: warning: %s needs %s, which was not found; add a rule for it by hand or learn it\n", x.Path, m)
	}
	dir := o.Dir
	if dir == "" {
		dir = h.Paths.ProfileDir
	}
	base, err := learn.AbstractionCoverage(host.OpenProfileSet(dir), "abstractions/base")
	if err != nil {
		base = nil // without the include path's base, list every library
	}
	sk := skeleton.Unit(x, argv, skeleton.Options{Name: name, ABI: o.ABI, Complain: o.Complain, Base: base})
	var buf bytes.Buffer
	if err := policy.Format(&buf, nil, sk.File()); err != nil {
		return err
	}
	dropIn := filepath.Join(dirs[0], unit+".d", DropInName)
	dropInText := "# Written by armorer new --unit: systemd confines " + unit + " with the AppArmor profile " + name + ".\n[Service]\nAppArmorProfile=" + name + "\n"
	var rep *newReport
	if o.JSON {
		rep = newNewReport(name, o.ABI, x, buf.Bytes())
		rep.Unit, rep.DropIn = unit, &dropInJSON{Path: dropIn, Content: dropInText}
	}
	if !o.Write {
		if rep != nil {
			return writeJSON(o.IO.Out, rep)
		}
		fmt.Fprintf(o.IO.ErrOut, "armorer: with --write, also %s:\n%s", dropIn, dropInText)
		_, err := o.IO.Out.Write(buf.Bytes())
		return err
	}
	if strings.ContainsAny(name, "/\x00") || strings.HasPrefix(name, ".") {
		return usageErrorf("profile name %q cannot be a file name in %s; choose one with --name", name, dir)
	}
	target := filepath.Join(dir, name)
	if _, err := os.Lstat(target); err == nil {
		return &FoundError{Msg: fmt.Sprintf("%s already exists: update it with armorer learn, or remove it first", target)}
	}
	w := &profileWriter{ctx: o.Ctx, host: o.Host, dir: dir}
	written, err := w.write(o.IO, []learn.Change{{Path: target, New: buf.Bytes()}})
	if err != nil {
		return err
	}
	if _, err := h.WriteDropIn(unit, DropInName, []byte(dropInText)); err != nil {
		return &EnvError{Err: err}
	}
	fmt.Fprintf(o.IO.ErrOut, "wrote %s: run systemctl daemon-reload, load the profile (armorer load %s), then restart %s\n", dropIn, name, unit)
	if rep != nil {
		rep.File = target
		rep.wrote(written)
		rep.Written = append(rep.Written, writtenJSON{Path: dropIn})
		return writeJSON(o.IO.Out, rep)
	}
	return nil
}

// execStart returns the argv of the program unit runs: its last
// ExecStart= in [Service], with drop-ins applied as systemd applies them
// (an empty ExecStart= resets the list).
func execStart(dirs []string, unit string) ([]string, string, error) {
	u, err := host.ReadUnit(dirs, unit)
	if err != nil {
		return nil, "", &FlagError{Err: err}
	}
	var last *host.UnitOption
	for i, o := range u.Options {
		if o.Section == "Service" && o.Name == "ExecStart" {
			if strings.TrimSpace(o.Value) == "" {
				last = nil
			} else {
				last = &u.Options[i]
			}
		}
	}
	if last == nil {
		return nil, u.File, &FlagError{Err: fmt.Errorf("%s: no ExecStart= in [Service]; give the program: armorer new --unit %s PROGRAM", u.File, unit)}
	}
	argv, err := splitExec(last.Value)
	if err != nil {
		return nil, last.File, &FlagError{Err: fmt.Errorf("%s: ExecStart=: %v", last.Pos(), err)}
	}
	if len(argv) == 0 {
		return nil, last.File, &FlagError{Err: fmt.Errorf("%s: no ExecStart= in [Service]; give the program: armorer new --unit %s PROGRAM", u.File, unit)}
	}
	return argv, last.File, nil
}

// splitExec splits an ExecStart= value like systemd: whitespace-separated
// words, double or single quotes, backslash escapes; the special prefixes
// (-, @, :, +, !) of the program are dropped.
func splitExec(v string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quote := false, byte(0)
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v):
			i++
			cur.WriteByte(v[i])
			inWord = true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, nil
	}
	words[0] = strings.TrimLeft(words[0], "-@:+!")
	if !filepath.IsAbs(words[0]) {
		return nil, fmt.Errorf("program %q is not an absolute path", words[0])
	}
	return words, nil
}

// newArgs: BINARY, which --unit makes optional (ExecStart= names it).
func newArgs(o *newOptions) func(cmd *cobra.Command, args []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if o.Unit != "" && len(args) <= 1 {
			return nil
		}
		return exactArgs(1)(cmd, args)
	}
}
