package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/auditlog"
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
	JSON    bool
	// ProbeSiblings: also ask, per allowed file access, whether a new
	// file beside it would be allowed (warnings, not denials).
	ProbeSiblings bool

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
directory when it holds tunables/ or abstractions/, else the profile directory.

Denials that learn holds back for a human (sensitive accesses) are listed as
findings, each with its stable ID and the armorer learn --accept command
that grants it; learn --write learns the others.

--probe-siblings also asks what the events cannot show: for each allowed
file access, would a new file in the same directory be allowed (a fresh
name, armorer-probe with the name's extension; for a numbered name the next
number: data/k1 → data/k2, cpu12/online → cpu13/online)? Each probe the
profile would deny is a PROBE line: a warning that the profile may be too
narrow for the program's next run, never a denial (the exit status is the
same). enforce's gate always probes and shows them as warnings.

--json prints one document (schema armorer/simulate/v1, docs/json.md): each
predicted denial with the rule that would allow it, the nearest existing
rule and the events (source and line) it comes from, the findings, and with
--probe-siblings every probe with its answer.`,
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
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the result as one JSON document (docs/json.md)")
	cmd.Flags().BoolVar(&opts.ProbeSiblings, "probe-siblings", false, "also ask whether a new file beside each allowed one would be allowed (PROBE warnings)")
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
	Probes   []simulator.Probe // with probing: every sibling probe
	Stats    source.Stats
	// Findings are the denials learn would hold back for a human (only
	// when there are denials and the sources can be read again).
	Findings []learn.Finding
	// Dir is the profile file's directory when it is not the profile
	// directory, Sources the SOURCEs replayed: what the command that
	// accepts a finding names.
	Dir     string
	Sources []string
}

func simulateRun(o *simulateOptions) error {
	sim, err := simulate(o.Ctx, o.IO, profileDir(o.Host, ""), stateDirOf(o.Host), o.Profile, o.Sources, o.Include, o.JSON, o.ProbeSiblings)
	if err != nil {
		return err
	}
	if o.JSON {
		rep := &simulateReport{Schema: schemaName("simulate"), File: sim.File, Profiles: sim.Profiles, Events: sim.Events,
			Replayed: sim.Replayed, Denials: denialsJSON(sim.Denials), Findings: findingsJSON(sim.Findings, sim.Dir, sim.Sources), Log: logStats(sim.Stats)}
		if o.ProbeSiblings {
			rep.Probes = probesJSON(sim.Probes)
		}
		if err := writeJSON(o.IO.Out, rep); err != nil {
			return err
		}
		if len(sim.Denials) > 0 {
			return &FoundError{Msg: fmt.Sprintf("%d accesses would be denied in enforce mode", len(sim.Denials)), Silent: true}
		}
		return nil
	}
	cs := o.IO.ColorScheme()
	for _, d := range sim.Denials {
		fmt.Fprintf(o.IO.Out, "%s %s\n", cs.Denied("DENIED"), d)
	}
	denied := deniedProbes(sim.Probes)
	for _, p := range denied {
		fmt.Fprintf(o.IO.Out, "%s %s\n", cs.Yellow("PROBE"), p)
	}
	if o.ProbeSiblings {
		fmt.Fprintf(o.IO.ErrOut, "armorer: %d of %d sibling probes would be denied (warnings: a new file there needs a rule)\n", len(denied), len(sim.Probes))
	}
	printBlocking(o.IO.ErrOut, o.IO.ErrColorScheme(), sim)
	if len(sim.Denials) > 0 {
		return &FoundError{Msg: fmt.Sprintf("%d accesses would be denied in enforce mode (%d events replayed against %s)",
			len(sim.Denials), sim.Replayed, strings.Join(sim.Profiles, ", "))}
	}
	fmt.Fprintf(o.IO.ErrOut, "no denials: %d events replayed against %s\n", sim.Replayed, strings.Join(sim.Profiles, ", "))
	return nil
}

// simulate replays sources against profile: a file, or the name of a
// profile in profDir; state:NAME sources read stateDir. quiet turns the
// progress line off (--json).
// simulateIncludes is where simulate looks for the includes of a profile
// in dir by default: dir itself when it has its own tunables or
// abstractions (a copy of a profile tree), else the profile directory.
func simulateIncludes(profDir, dir string) []string {
	for _, sub := range []string{"tunables", "abstractions"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err == nil && fi.IsDir() {
			return []string{dir}
		}
	}
	return []string{profDir}
}

func simulate(ctx context.Context, io_ *IOStreams, profDir, stateDir, profile string, sources, include []string, quiet, probe bool) (*simulation, error) {
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
		include = simulateIncludes(profDir, dir)
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
	sim.ProbeSiblings = probe
	p, err := openEvents(ctx, io_, sources, source.Options{State: storedEventsIn(stateDir)})
	if err != nil {
		return nil, err
	}
	var simErr error
	var a learn.Access
	var m learn.Mapper
	n := 0
	stopProgress := startProgress(io_, p, quiet)
	defer stopProgress()
	for ev := range p.Events() {
		n++
		if !m.Map(ev.Event, ev.Source, ev.Line(), &a) {
			continue
		}
		if err := sim.Add(&a); err != nil && simErr == nil {
			simErr = err
		}
	}
	stopProgress()
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
	res := &simulation{File: file, Profiles: names, Events: n, Replayed: sim.Replayed, Denials: sim.Denials(), Stats: p.Stats(),
		Sources: sources}
	if probe {
		res.Probes = sim.Probes()
	}
	if !sameDir(dir, profDir) {
		res.Dir = dir // the accept command names it
	}
	if len(res.Denials) > 0 {
		res.Findings = blockingFindings(ctx, io_, dir, include, sources, names)
	}
	return res, nil
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
	sim, err := simulate(ctx, g.io, dir, state, req.File, sources, nil, false, true)
	if err != nil {
		return nil, err
	}
	rep := &GateReport{Events: sim.Replayed}
	for _, d := range sim.Denials {
		rep.Denials = append(rep.Denials, d.String())
	}
	for _, p := range deniedProbes(sim.Probes) {
		rep.Warnings = append(rep.Warnings, "PROBE "+p.String())
	}
	for _, f := range sim.Findings {
		rep.Findings = append(rep.Findings, GateFinding{ID: f.Key(), Text: f.String(), Accept: acceptCommand(f, sim.Dir, sim.Sources)})
	}
	return rep, nil
}

// blockingFindings learns from the sources again, in memory, and returns
// the findings of the simulated profiles: the denials a human decides.
// Standard input cannot be read twice: then there are none (and a note).
func blockingFindings(ctx context.Context, io_ *IOStreams, profDir string, include, sources, names []string) []learn.Finding {
	if slices.Contains(sources, "-") {
		fmt.Fprintf(io_.ErrOut, "armorer: note: standard input cannot be read twice: run armorer learn on the events to see which denials are findings\n")
		return nil
	}
	profile := ""
	if len(names) == 1 {
		profile = names[0]
	}
	sess, err := learn.OpenSession(learn.SessionOptions{Dir: profDir, Include: include, Profile: profile})
	if err != nil {
		return nil
	}
	p, err := openEvents(ctx, io_, sources, source.Options{})
	if err != nil {
		return nil
	}
	res, err := sess.Learn(p.Events())
	if err != nil || p.Err() != nil {
		return nil
	}
	var out []learn.Finding
	for _, f := range res.Findings {
		for _, n := range names {
			if auditlog.LabelMatches(f.Profile, n) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// printBlocking lists the findings among the denials, each with the
// command that grants it, and says how to learn the rest.
func printBlocking(w io.Writer, cs *ColorScheme, sim *simulation) {
	if len(sim.Denials) == 0 {
		return
	}
	for _, f := range sim.Findings {
		fmt.Fprintf(w, "finding %s: %s\n", cs.Severity(f.Severity, f.Key()), f)
		if c := acceptCommand(f, sim.Dir, sim.Sources); c != "" {
			fmt.Fprintf(w, "  accept: %s\n", c)
		}
	}
	if n := len(sim.Denials) - len(sim.Findings); n > 0 {
		dir := ""
		if sim.Dir != "" {
			dir = "--dir " + shellQuote(sim.Dir) + " "
		}
		fmt.Fprintf(w, "armorer: learn the other denials with armorer learn %s--write %s\n", dir, strings.Join(quoteAll(sim.Sources), " "))
	}
}

func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = shellQuote(a)
	}
	return out
}

// deniedProbes are the probes the profile would deny: the warnings.
func deniedProbes(ps []simulator.Probe) []simulator.Probe {
	var out []simulator.Probe
	for _, p := range ps {
		if !p.Allowed {
			out = append(out, p)
		}
	}
	return out
}
