package cli

import (
	"context"
	"errors"
	"fmt"
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
	addHostFlags(cmd, &opts.hostFlags, "write the files")
	return cmd
}

func enforceRun(cmd *cobra.Command, o *enforceOptions) error {
	return runHostVerb(cmd.Context(), o.IO, o.Host, "enforce", o.Profiles, onFile(func(ctx context.Context, h *host.Host, f host.ProfileFile) (*host.Result, error) {
		f.Install = o.Install
		if err := h.CheckOutside(f); err != nil {
			return nil, err
		}
		if !o.Force {
			if err := runGate(ctx, h, o, f); err != nil {
				return nil, err
			}
		}
		return h.SetMode(ctx, f, host.Enforce, nil)
	}))
}

func runGate(ctx context.Context, h *host.Host, o *enforceOptions, f host.ProfileFile) error {
	if o.Gate == nil {
		return &FoundError{Msg: ErrNoGate.Error() + ": enforce cannot check recorded behaviour; use --force to enforce without the check"}
	}
	gate, err := o.Gate()
	if err != nil {
		return &EnvError{Err: fmt.Errorf("simulate gate: %w", err)}
	}
	file := h.Path(f)
	if f.Source != "" {
		file = f.Source
	}
	names, err := h.Parser.Names(ctx, file)
	if err != nil {
		return err
	}
	rep, err := gate.Check(ctx, GateRequest{File: file, Profiles: names, Sources: o.Events, Dir: h.Paths.ProfileDir, StateDir: h.Paths.StateDir})
	if err != nil {
		return &EnvError{Err: fmt.Errorf("simulate gate: %w", err)}
	}
	if rep.Events == 0 {
		return &FoundError{Msg: fmt.Sprintf("no recorded events for %s: an empty check proves nothing; record or learn first, give --events SOURCE, or use --force", strings.Join(names, ", "))}
	}
	if len(rep.Denials) > 0 {
		return &FoundError{Msg: fmt.Sprintf("enforce mode would deny %d recorded access(es) (of %d events); learn them first or use --force:\n  %s",
			len(rep.Denials), rep.Events, strings.Join(rep.Denials, "\n  "))}
	}
	return nil
}
