package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/armorer-dev/armorer/host"
	"github.com/spf13/cobra"
)

// EnforceGate is the seam for the simulate gate of issue 5: before
// enforce switches a profile, the gate replays the events recorded for it
// (the state directory's per-profile event log, written by learn and
// record) and any --events SOURCEs against the profile file, and returns
// what enforce mode would deny. The learn branch implements it (with
// simulate) and sets Factory.EnforceGate; until then enforce refuses to
// run without --force, rather than pretend a check happened.
type EnforceGate interface {
	Check(ctx context.Context, req GateRequest) (*GateReport, error)
}

// GateRequest says what to check.
type GateRequest struct {
	File     string   // the profile file that will be enforced
	Profiles []string // the profiles it defines (children as parent//child)
	Sources  []string // --events SOURCEs, in addition to the recorded events
	// Dir and StateDir are the profile directory (for includes) and the
	// state directory (the recorded events) enforce works on; "" for the
	// gate's own.
	Dir, StateDir string
}

// GateReport is the gate's verdict.
type GateReport struct {
	// Events is how many events were replayed. Zero proves nothing, and
	// enforce refuses unless --force.
	Events int
	// Denials are the accesses enforce mode would deny, one line each,
	// in the form `armorer simulate` prints them.
	Denials []string
	// Findings are the denials learn holds back for a human: each
	// blocks enforcement until accepted (or the profile changed).
	Findings []GateFinding
	// Warnings never block: sibling probes the profile would deny (a new
	// file beside an allowed one), in the form simulate prints them.
	Warnings []string
}

// GateFinding is one finding that blocks enforcement.
type GateFinding struct {
	ID     string // the finding's stable ID
	Text   string // as learn prints it
	Accept string // the command that grants it ("" when none can)
}

// ErrNoGate is enforce's answer when no gate is built in.
var ErrNoGate = errors.New("the simulate gate is not available in this build of armorer")

type enforceOptions struct {
	IO       *IOStreams
	Host     func() (*host.Host, error)
	Gate     func() (EnforceGate, error)
	Force    bool
	Install  bool
	Events   []string
	Profiles []string
	JSON     bool

	hostFlags // --dir, --state-dir, --no-load
}

func newEnforceCmd(f *Factory, runF func(*enforceOptions) error) *cobra.Command {
	opts := &enforceOptions{IO: f.IO, Gate: f.EnforceGate}
	opts.Host = f.hostFor(&opts.hostFlags)
	cmd := &cobra.Command{
		Use:   "enforce [--force] [--events SOURCE]... FILE|NAME...",
		Short: "Put profiles in enforce mode, after checking recorded behaviour",
		Long: `Check each profile against the events recorded for it (and --events
SOURCEs): if enforce mode would deny recorded behaviour, refuse (exit 1) and
list the denials. With no recorded events the check proves nothing, so
enforce refuses too unless --events or --force is given.

Then remove the complain flag from every profile of the file, changing
nothing else, validate it, write it atomically (the previous version is kept
in the state directory) and replace the profiles in the kernel. A disabled
profile is re-enabled. A FILE outside the profile directory would replace the
installed file of the same name: that is refused (exit 1) unless --install.
If the kernel rejects it, the previous file and
kernel state are restored and the exit status is 3.`,
		GroupID: "host",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Profiles = args
			if runF != nil {
				return runF(opts)
			}
			return enforceRun(cmd, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "enforce without the simulate check")
	cmd.Flags().BoolVar(&opts.Install, "install", false, "allow a FILE outside the profile directory: install it, replacing the installed file of that name")
	cmd.Flags().StringArrayVar(&opts.Events, "events", nil, "also check against events from `SOURCE` (repeatable)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print what changed as one JSON document (docs/json.md)")
	addHostFlags(cmd, &opts.hostFlags, "write the files")
	return cmd
}

func enforceRun(cmd *cobra.Command, o *enforceOptions) error {
	gates := gatesPassed{}
	return runHostVerbOut(cmd.Context(), o.IO, o.Host, "enforce", o.Profiles, o.JSON, gates, onFile(func(ctx context.Context, h *host.Host, f host.ProfileFile) (*host.Result, error) {
		f.Install = o.Install
		if err := h.CheckOutside(f); err != nil {
			return nil, err
		}
		var rep *GateReport
		if !o.Force {
			var err error
			if rep, f.Checked, err = runGate(ctx, h, o, f); err != nil {
				return nil, err
			}
		}
		res, err := h.SetMode(ctx, f, host.Enforce, nil)
		if res != nil && rep != nil {
			gates[res] = rep
		}
		return res, err
	}))
}

// runGate checks f with the simulate gate: the report when it passes
// (its warnings printed on stderr) and a snapshot of the file and the
// files it includes taken before the check, for SetMode to compare under
// the directory's lock (a write in between is refused, not enforced
// unchecked); a refusal otherwise.
func runGate(ctx context.Context, h *host.Host, o *enforceOptions, f host.ProfileFile) (*GateReport, *host.Snapshot, error) {
	if o.Gate == nil {
		return nil, nil, &FoundError{Msg: ErrNoGate.Error() + ": enforce cannot check recorded behaviour; use --force to enforce without the check"}
	}
	gate, err := o.Gate()
	if err != nil {
		return nil, nil, &EnvError{Err: fmt.Errorf("simulate gate: %w", err)}
	}
	file := h.Path(f)
	if f.Source != "" {
		file = f.Source
	}
	// Before the check: what it can have read at most, resolved as the
	// gate's simulation resolves includes.
	dir := filepath.Dir(file)
	snap, err := host.TakeSnapshot(file, dir, simulateIncludes(h.Paths.ProfileDir, dir)...)
	if err != nil {
		return nil, nil, err
	}
	names, err := h.Parser.Names(ctx, file)
	if err != nil {
		return nil, nil, err
	}
	rep, err := gate.Check(ctx, GateRequest{File: file, Profiles: names, Sources: o.Events, Dir: h.Paths.ProfileDir, StateDir: h.Paths.StateDir})
	if err != nil {
		return nil, nil, &EnvError{Err: fmt.Errorf("simulate gate: %w", err)}
	}
	if rep.Events == 0 {
		return nil, nil, &FoundError{Msg: fmt.Sprintf("no recorded events for %s: an empty check proves nothing; record or learn first, give --events SOURCE, or use --force", strings.Join(names, ", "))}
	}
	if len(rep.Denials) > 0 {
		return nil, nil, &gateRefusal{report: rep, found: FoundError{Msg: fmt.Sprintf("enforce mode would deny %d recorded access(es) (of %d events); learn them first or use --force:\n  %s%s%s",
			len(rep.Denials), rep.Events, strings.Join(rep.Denials, "\n  "), gateFindingsText(rep.Findings), gateWarningsText(rep.Warnings))}}
	}
	for _, w := range capWarnings(rep.Warnings) {
		fmt.Fprintf(o.IO.ErrOut, "armorer: warning: %s\n", w)
	}
	return rep, snap, nil
}

// gateFindingsText lists the findings that block enforcement, each with
// the command that accepts it.
func gateFindingsText(fs []GateFinding) string {
	if len(fs) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d of them are findings a human decides (learn holds them back):", len(fs))
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  finding %s: %s", f.ID, f.Text)
		if f.Accept != "" {
			fmt.Fprintf(&b, "\n    accept: %s", f.Accept)
		}
	}
	return b.String()
}

// maxGateWarnings bounds the probe warnings the gate prints.
const maxGateWarnings = 20

// capWarnings keeps the first maxGateWarnings and says how many more.
func capWarnings(ws []string) []string {
	if len(ws) <= maxGateWarnings {
		return ws
	}
	return append(ws[:maxGateWarnings:maxGateWarnings], fmt.Sprintf("and %d more sibling probes would be denied (armorer simulate --probe-siblings lists them)", len(ws)-maxGateWarnings))
}

// gateWarningsText lists the probe warnings of a refusal: not blocking.
func gateWarningsText(ws []string) string {
	if len(ws) == 0 {
		return ""
	}
	return fmt.Sprintf("\nwarnings, not blocking (a new file beside an allowed one would be denied):\n  %s", strings.Join(capWarnings(ws), "\n  "))
}
