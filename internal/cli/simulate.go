package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/auditlog/source"
	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/learn"
	simulator "github.com/armorer-dev/armorer/simulate"
	"github.com/spf13/cobra"
)

type simulateOptions struct {
	IO      *IOStreams
	Host    func() (*host.Host, error)
	Ctx     context.Context
	Profile string
	Sources []string
	Include []string

	hostFlags // --dir, --state-dir
}

func newSimulateCmd(f *Factory, runF func(*simulateOptions) error) *cobra.Command {
	opts := &simulateOptions{IO: f.IO}
	opts.Host = f.hostFor(&opts.hostFlags)
	cmd := &cobra.Command{
		Use:   "simulate PROFILE [SOURCE...]",
		Short: "List the recorded accesses a profile would deny in enforce mode",
		Long: `Replay recorded AppArmor events (default source: auditd:) against a profile
file, with everything it includes, and list every access enforce mode would
deny, with the nearest existing rule. Complain mode's learning children
(P//null-/path) are checked against what P's exec rule for /path selects.
Exit status 1 when anything would be denied: the gate before enforce.

PROFILE is a profile file, or the name of a profile in the profile directory.
Includes are searched in -I directories; by default in the profile file's
directory when it holds tunables/ or abstractions/, else the profile directory.`,
		GroupID: "profile",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			opts.Profile, opts.Sources = args[0], args[1:]
			if len(opts.Sources) == 0 {
				opts.Sources = []string{"auditd:"}
			}
			if runF != nil {
				return runF(opts)
			}
			return simulateRun(opts)
		},
	}
	cmd.Flags().StringSliceVarP(&opts.Include, "include", "I", nil, "include search path")
	addHostFlags(cmd, &opts.hostFlags, "")
	return cmd
}

// simulation is the result of replaying sources against a profile file.
type simulation struct {
	File     string
	Profiles []string
	Events   int
	Replayed int
	Denials  []simulator.Denial
}

func simulateRun(o *simulateOptions) error {
	sim, err := simulate(o.Ctx, o.IO, profileDir(o.Host, ""), stateDirOf(o.Host), o.Profile, o.Sources, o.Include)
	if err != nil {
		return err
	}
	for _, d := range sim.Denials {
		fmt.Fprintf(o.IO.Out, "DENIED %s\n", d)
	}
	if len(sim.Denials) > 0 {
		return &FoundError{Msg: fmt.Sprintf("%d accesses would be denied in enforce mode (%d events replayed against %s)",
			len(sim.Denials), sim.Replayed, strings.Join(sim.Profiles, ", "))}
	}
	fmt.Fprintf(o.IO.ErrOut, "no denials: %d events replayed against %s\n", sim.Replayed, strings.Join(sim.Profiles, ", "))
	return nil
}

// simulate replays sources against profile: a file, or the name of a
// profile in profDir; state:NAME sources read stateDir.
func simulate(ctx context.Context, io_ *IOStreams, profDir, stateDir, profile string, sources, include []string) (*simulation, error) {
	file := profile
	if _, err := os.Stat(file); err != nil {
		if strings.ContainsRune(profile, '/') {
			return nil, &FlagError{Err: fmt.Errorf("profile %s: %w", profile, err)}
		}
		file = "" // a profile name: found below
	}
	dir := profDir
	if file != "" {
		dir = filepath.Dir(file)
	}
	if len(include) == 0 {
		include = []string{profDir}
		for _, sub := range []string{"tunables", "abstractions"} {
			if fi, err := os.Stat(filepath.Join(dir, sub)); err == nil && fi.IsDir() {
				include = []string{dir}
				break
			}
		}
	}
	pol, err := host.LoadProfileSet(dir, include...)
	if err != nil {
		return nil, &FlagError{Err: err}
	}
	var names []string
	if file != "" {
		abs, _ := filepath.Abs(file)
		for name, e := range pol.Profiles {
			if ea, _ := filepath.Abs(e.File); ea == abs && !strings.Contains(name, "//") {
				names = append(names, name)
			}
		}
		if len(names) == 0 {
			if err := pol.AddFile(file); err != nil {
				return nil, &FoundError{Msg: err.Error()}
			}
			for name, e := range pol.Profiles {
				if e.File == file && !strings.Contains(name, "//") {
					names = append(names, name)
				}
			}
		}
	} else if pol.Profiles[profile] != nil {
		names = []string{profile}
	}
	if len(names) == 0 {
		for _, p := range pol.Problems {
			fmt.Fprintf(io_.ErrOut, "armorer: %v\n", p)
		}
		return nil, &FlagError{Err: fmt.Errorf("no profile %q (a file, or a profile in %s)", profile, dir)}
	}
	slices.Sort(names)
	sim := simulator.New(pol, names...)
	p, err := openEvents(ctx, io_, sources, source.Options{State: storedEventsIn(stateDir)})
	if err != nil {
		return nil, err
	}
	var simErr error
	var a learn.Access
	var m learn.Mapper
	n := 0
	for ev := range p.Events() {
		n++
		if !m.Map(ev.Event, ev.Source, ev.Line(), &a) {
			continue
		}
		if err := sim.Add(&a); err != nil && simErr == nil {
			simErr = err
		}
	}
	if err := p.Err(); err != nil {
		return nil, sourceError(err)
	}
	if simErr != nil {
		fmt.Fprintf(io_.ErrOut, "armorer: warning: %v\n", simErr)
	}
	for _, err := range sim.Problems() {
		fmt.Fprintf(io_.ErrOut, "armorer: warning: %v\n", err)
	}
	warnIncomplete(io_.ErrOut, "simulated", p.Stats())
	return &simulation{File: file, Profiles: names, Events: n, Replayed: sim.Replayed, Denials: sim.Denials()}, nil
}

// simulateGate is enforce's gate: the events recorded for the file's
// profiles in the state directory (state:NAME, written by learn and
// record) and those of --events SOURCEs, replayed against the profile file
// with simulate.
type simulateGate struct {
	io   *IOStreams
	host func() (*host.Host, error)
}

// NewSimulateGate returns the EnforceGate backed by simulate, on the
// profile directory of host (nil: the one the environment names).
func NewSimulateGate(io *IOStreams, h func() (*host.Host, error)) EnforceGate {
	return simulateGate{io: io, host: h}
}

func (g simulateGate) Check(ctx context.Context, req GateRequest) (*GateReport, error) {
	sources := slices.Clone(req.Sources)
	for _, p := range req.Profiles {
		if !strings.Contains(p, "//") {
			sources = append(sources, stateScheme+p)
		}
	}
	dir, state := req.Dir, req.StateDir
	if dir == "" {
		dir = profileDir(g.host, "")
	}
	if state == "" {
		state = stateDirOf(g.host)
	}
	sim, err := simulate(ctx, g.io, dir, state, req.File, sources, nil)
	if err != nil {
		return nil, err
	}
	rep := &GateReport{Events: sim.Replayed}
	for _, d := range sim.Denials {
		rep.Denials = append(rep.Denials, d.String())
	}
	return rep, nil
}
