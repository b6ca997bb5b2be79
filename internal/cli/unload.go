package cli

import (
	"context"
	"errors"

	"github.com/armorer-dev/armorer/host"
	"github.com/spf13/cobra"
)

type unloadOptions struct {
	IO       *IOStreams
	Host     func() (*host.Host, error)
	Force    bool
	Profiles []string
	JSON     bool

	hostFlags // --dir, --state-dir, --no-load
}

func newUnloadCmd(f *Factory, runF func(*unloadOptions) error) *cobra.Command {
	opts := &unloadOptions{IO: f.IO}
	opts.Host = f.hostFor(&opts.hostFlags)
	cmd := &cobra.Command{
		Use:   "unload [--force] FILE|NAME...",
		Short: "Remove profiles from the kernel (the files stay)",
		Long: `Remove the profiles a file defines from the kernel; the file stays. A NAME
that has no file any more is removed by its profile name.

unload refuses (exit 1) while a profile still confines running processes,
since removing it silently leaves them unconfined; --force removes it anyway.`,
		GroupID: "host",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Profiles = args
			if runF != nil {
				return runF(opts)
			}
			return unloadRun(cmd, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "unload even if processes are confined by the profile")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print what changed as one JSON document (docs/json.md)")
	addHostFlags(cmd, &opts.hostFlags, "")
	return cmd
}

func unloadRun(cmd *cobra.Command, o *unloadOptions) error {
	return runHostVerbOut(cmd.Context(), o.IO, o.Host, "unload", o.Profiles, o.JSON, nil, func(ctx context.Context, h *host.Host, arg string) (*host.Result, error) {
		f, err := h.Resolve(arg)
		var nf *host.NotFoundError
		if errors.As(err, &nf) {
			return h.UnloadName(ctx, arg, o.Force) // the file is gone, the profile may not be
		}
		if err != nil {
			return nil, err
		}
		return h.Unload(ctx, f, o.Force)
	})
}
