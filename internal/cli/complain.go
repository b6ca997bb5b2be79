package cli

import (
	"github.com/armorer-dev/armorer/host"
	"github.com/spf13/cobra"
)

type complainOptions struct {
	IO       *IOStreams
	Host     func() (*host.Host, error)
	Profiles []string
}

func newComplainCmd(f *Factory, runF func(*complainOptions) error) *cobra.Command {
	opts := &complainOptions{IO: f.IO, Host: f.Host}
	cmd := &cobra.Command{
		Use:   "complain FILE|NAME...",
		Short: "Put profiles in complain mode (in the file, then the kernel)",
		Long: `Set flags=(complain) on every profile of each file, changing nothing else in
the file, validate it, write it atomically (the previous version is kept in
the state directory) and replace the profiles in the kernel. A disabled
profile is re-enabled. If the kernel rejects it, the previous file and
kernel state are restored and the exit status is 3.`,
		GroupID: "host",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Profiles = args
			if runF != nil {
				return runF(opts)
			}
			return complainRun(cmd, opts)
		},
	}
	return cmd
}

func complainRun(cmd *cobra.Command, o *complainOptions) error {
	ctx := cmd.Context()
	h, err := requireKernel(ctx, o.Host)
	if err != nil {
		return err
	}
	return eachArg(o.IO.ErrOut, "complain", o.Profiles, func(arg string) error {
		f, err := h.Resolve(arg)
		if err != nil {
			return err
		}
		res, err := h.SetMode(ctx, f, host.Complain, nil)
		if err != nil {
			return err
		}
		printResult(o.IO.Out, o.IO.ErrOut, res)
		return nil
	})
}
