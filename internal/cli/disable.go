package cli

import (
	"context"

	"github.com/armorer-dev/armorer/host"
	"github.com/spf13/cobra"
)

type disableOptions struct {
	IO       *IOStreams
	Host     func() (*host.Host, error)
	Force    bool
	Profiles []string
	JSON     bool

	hostFlags // --dir, --state-dir, --no-load
}

func newDisableCmd(f *Factory, runF func(*disableOptions) error) *cobra.Command {
	opts := &disableOptions{IO: f.IO}
	opts.Host = f.hostFor(&opts.hostFlags)
	cmd := &cobra.Command{
		Use:   "disable [--force] FILE|NAME...",
		Short: "Unload profiles and keep them from loading at boot (like aa-disable)",
		Long: `Unload the profiles of each file and link the file from the profile
directory's disable/ subdirectory, so neither boot nor a reload of the
apparmor service loads it again. complain and enforce re-enable it.

Like unload, disable refuses (exit 1) while a profile still confines running
processes, unless --force.`,
		GroupID: "host",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Profiles = args
			if runF != nil {
				return runF(opts)
			}
			return disableRun(cmd, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "disable even if processes are confined by the profile")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print what changed as one JSON document (docs/json.md)")
	addHostFlags(cmd, &opts.hostFlags, "link the files from disable/ without unloading")
	return cmd
}

func disableRun(cmd *cobra.Command, o *disableOptions) error {
	return runHostVerbOut(cmd.Context(), o.IO, o.Host, "disable", o.Profiles, o.JSON, nil, onFile(func(ctx context.Context, h *host.Host, f host.ProfileFile) (*host.Result, error) {
		return h.Disable(ctx, f, o.Force)
	}))
}
