package cli

import (
	"context"

	"github.com/armorer-dev/armorer/host"
	"github.com/spf13/cobra"
)

type loadOptions struct {
	IO       *IOStreams
	Host     func() (*host.Host, error)
	Complain bool
	Profiles []string
	JSON     bool

	hostFlags // --dir, --state-dir, --no-load
}

func newLoadCmd(f *Factory, runF func(*loadOptions) error) *cobra.Command {
	opts := &loadOptions{IO: f.IO}
	opts.Host = f.hostFor(&opts.hostFlags)
	cmd := &cobra.Command{
		Use:   "load [--complain] FILE|NAME...",
		Short: "Validate profiles and load or replace them in the kernel",
		Long: `Validate each profile file with apparmor_parser, install it in the profile
directory (a FILE from elsewhere is copied there under its base name, so a
reboot loads it too), and load or replace its profiles in the kernel.

--complain first sets flags=(complain) in the file: the mode lives in the
file, never only in the kernel. The previous version of the file is kept in
the state directory. If the kernel rejects the load, the previous file and
kernel state are restored and the exit status is 3. A failure on one profile
never stops the others. A bare NAME that is both an installed file and a
different file in the working directory is refused as ambiguous (exit 2):
write ./NAME or the full path.`,
		GroupID: "host",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Profiles = args
			if runF != nil {
				return runF(opts)
			}
			return loadRun(cmd, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Complain, "complain", false, "set complain mode in the file before loading")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print what changed as one JSON document (docs/json.md)")
	addHostFlags(cmd, &opts.hostFlags, "")
	return cmd
}

func loadRun(cmd *cobra.Command, o *loadOptions) error {
	return runHostVerbOut(cmd.Context(), o.IO, o.Host, "load", o.Profiles, o.JSON, nil, func(ctx context.Context, h *host.Host, arg string) (*host.Result, error) {
		f, err := h.ResolveLoad(arg)
		if err != nil {
			return nil, err
		}
		res, err := h.Load(ctx, f, o.Complain, nil)
		return res, withDiagnostics(ctx, h, f, err)
	})
}
