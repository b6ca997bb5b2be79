// Package cli implements armorer's command line: one file per verb, each with
// an options struct, a newXxxCmd constructor and an xxxRun function.
package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/armorer-dev/armorer/internal/atomicfile"
)

// stopGrace is how long a command has, after SIGINT or SIGTERM, to return
// on its own (loops and sources watch the context) before Main stops it.
const stopGrace = 500 * time.Millisecond

// ownsStop is the annotation of a command that must run its own cleanup
// after a signal (record stops its program, then restores the profile):
// Main waits for it instead of abandoning it after stopGrace.
const ownsStop = "armorer/owns-stop"

// ExitInterrupted is the status of a command stopped by SIGINT or SIGTERM
// before it returned (128 + SIGINT, as shells report it).
const ExitInterrupted = 130

// Main runs armorer with the process's arguments and returns its exit status.
// After SIGINT or SIGTERM every command ends within a second: the context
// is cancelled; a command still running after stopGrace (a blocking open
// of a FIFO, a read of an idle pipe, a long computation) is abandoned once
// the atomic writes in progress have finished, so no file is left half
// written and no temporary file stays behind.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f := NewFactory()
	root := NewRootCmd(f)
	root.SetArgs(os.Args[1:])
	grace := stopGrace
	if c, _, err := root.Find(os.Args[1:]); err == nil && c.Annotations[ownsStop] != "" {
		grace = 24 * time.Hour // it restores state on its own (see ownsStop)
	}
	type result struct {
		cmd *cobra.Command
		err error
	}
	done := make(chan result, 1)
	go func() {
		if c, err := unknownCommand(root, os.Args[1:]); err != nil {
			done <- result{c, err}
			return
		}
		c, err := root.ExecuteContextC(ctx)
		done <- result{c, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		select {
		case res = <-done:
		case <-time.After(grace):
			atomicfile.Stop()
			fmt.Fprintln(f.IO.ErrOut, "armorer: interrupted")
			return ExitInterrupted
		}
	}
	reportError(f.IO.ErrOut, res.cmd, res.err)
	return exitCode(res.err)
}

// NewRootCmd builds the armorer command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "armorer <command> [flags]",
		Short: "AppArmor profiles from unconfined to enforced, with evidence",
		Long: `armorer generates, learns, checks, loads and monitors AppArmor profiles
for custom Linux applications, non-interactively and reproducibly.`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &FlagError{Err: err} })
	root.AddGroup(
		&cobra.Group{ID: "profile", Title: "Profile commands:"},
		&cobra.Group{ID: "events", Title: "Event commands:"},
		&cobra.Group{ID: "host", Title: "Host commands:"},
	)
	// Unknown subcommands and bad positional args are usage errors too.
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErrorf("unknown command %q", args[0])
		}
		return nil
	}
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }

	for _, c := range []*cobra.Command{
		// Each verb adds itself here, one line each.
		newCheckCmd(f, nil),
		newFmtCmd(f, nil),
		newEventsCmd(f, nil),
		newMonitorCmd(f, nil),
		newStatusCmd(f, nil),
		newLoadCmd(f, nil),
		newUnloadCmd(f, nil),
		newComplainCmd(f, nil),
		newEnforceCmd(f, nil),
		newDisableCmd(f, nil),
		newRestoreCmd(f, nil),
		newNewCmd(f, nil),
		newLearnCmd(f, nil),
		newSimulateCmd(f, nil),
		newRecordCmd(f, nil),
		newK8sCmd(f),
		newLibraryCmd(f),
		newVersionCmd(f, nil),
	} {
		root.AddCommand(c)
	}
	registerCompletions(root, f)
	return root
}

// exactArgs, minArgs wrap cobra's validators so that argument errors exit 2.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.MinimumNArgs(n)(cmd, args); err != nil {
			return &FlagError{Err: err}
		}
		return nil
	}
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return &FlagError{Err: err}
		}
		return nil
	}
}
