package cli

import (
	"context"

	"github.com/armorer-dev/armorer/host"
	"github.com/spf13/cobra"
)

type complainOptions struct {
	IO       *IOStreams
	Host     func() (*host.Host, error)
	Install  bool
	Profiles []string
	JSON     bool

	hostFlags // --dir, --state-dir, --no-load
}

func newComplainCmd(f *Factory, runF func(*complainOptions) error) *cobra.Command {
	opts := &complainOptions{IO: f.IO}
	opts.Host = f.hostFor(&opts.hostFlags)
	cmd := &cobra.Command{
		Use:   "complain FILE|NAME...",
		Short: "Put profiles in complain mode (in the file, then the kernel)",
		Long: `Set flags=(complain) on every profile of each file, changing nothing else in
the file, validate it, write it atomically (the previous version is kept in
the state directory) and replace the profiles in the kernel. A disabled
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
			return complainRun(cmd, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Install, "install", false, "allow a FILE outside the profile directory: install it, replacing the installed file of that name")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print what changed as one JSON document (docs/json.md)")
	addHostFlags(cmd, &opts.hostFlags, "write the files")
	return cmd
}

func complainRun(cmd *cobra.Command, o *complainOptions) error {
	return runHostVerbOut(cmd.Context(), o.IO, o.Host, "complain", o.Profiles, o.JSON, nil, onFile(func(ctx context.Context, h *host.Host, f host.ProfileFile) (*host.Result, error) {
		f.Install = o.Install
		return h.SetMode(ctx, f, host.Complain, nil)
	}))
}
