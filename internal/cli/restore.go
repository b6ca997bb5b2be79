package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/armorer-dev/armorer/host"
	"github.com/spf13/cobra"
)

type restoreOptions struct {
	IO      *IOStreams
	Host    func() (*host.Host, error)
	List    bool
	Version string
	Profile string

	hostFlags // --dir, --state-dir, --no-load
}

func newRestoreCmd(f *Factory, runF func(*restoreOptions) error) *cobra.Command {
	opts := &restoreOptions{IO: f.IO}
	opts.Host = f.hostFor(&opts.hostFlags)
	cmd := &cobra.Command{
		Use:   "restore [--list] [--version V] FILE|NAME",
		Short: "Bring back a kept previous version of a profile file",
		Long: `Every write of a profile file (learn --write, complain, enforce, load, new
--write, restore) keeps the previous version in the state directory's
backup/ tree. --list shows the kept versions of a profile file, newest
first: 1 is the version before the last write. restore puts one back
(default 1; --version takes the number or the name --list shows): under
the profile directory's lock, validated with apparmor_parser, written
atomically, and its profiles replaced in the kernel when they are loaded
(not with --no-load). The version it replaces is kept in turn, so restore
is undone by restoring again. An invalid version exits 1 and changes
nothing; a kernel rejection puts the file back and exits 3.`,
		GroupID: "host",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Profile = args[0]
			if opts.List && opts.Version != "" {
				return usageErrorf("--list and --version exclude each other")
			}
			if runF != nil {
				return runF(opts)
			}
			return restoreRun(cmd, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.List, "list", false, "list the kept versions, newest first")
	cmd.Flags().StringVar(&opts.Version, "version", "", "the version `V` to restore: its number in --list (1: the newest) or its name")
	addHostFlags(cmd, &opts.hostFlags, "write the file")
	return cmd
}

func restoreRun(cmd *cobra.Command, o *restoreOptions) error {
	if o.List {
		return restoreList(o)
	}
	return runHostVerb(cmd.Context(), o.IO, o.Host, "restore", []string{o.Profile}, func(ctx context.Context, h *host.Host, arg string) (*host.Result, error) {
		f, err := h.Resolve(arg) // not onFile: its diagnostics would be of the current file
		if err != nil {
			return nil, err
		}
		if f.Source != "" {
			return nil, usageErrorf("%s is not in the profile directory %s: name an installed profile", f.Source, h.Paths.ProfileDir)
		}
		backup, err := pickBackup(h, f, o.Version)
		if err != nil {
			return nil, err
		}
		return h.Restore(ctx, f, backup)
	})
}

// restoreList prints the kept versions of a profile file, newest first.
func restoreList(o *restoreOptions) error {
	h, err := o.Host()
	if err != nil {
		return &EnvError{Err: err}
	}
	f, err := h.Resolve(o.Profile)
	if err != nil {
		return hostError(err)
	}
	all, err := newestFirst(h, f)
	if err != nil {
		return err
	}
	for i, b := range all {
		size := ""
		if fi, err := os.Stat(b); err == nil {
			size = strconv.FormatInt(fi.Size(), 10) + " bytes"
		}
		fmt.Fprintf(o.IO.Out, "%d\t%s\t%s\n", i+1, filepath.Base(b), size)
	}
	return nil
}

// newestFirst lists f's kept versions, newest first; none is a refusal.
func newestFirst(h *host.Host, f host.ProfileFile) ([]string, error) {
	all, err := h.Backups(f)
	if err != nil {
		return nil, &EnvError{Err: fmt.Errorf("list the kept versions of %s: %w", h.Path(f), err)}
	}
	if len(all) == 0 {
		return nil, &FoundError{Msg: fmt.Sprintf("no kept versions of %s in %s", h.Path(f), h.Paths.BackupDir())}
	}
	slices.Reverse(all)
	return all, nil
}

// pickBackup turns --version (a number in --list, or a version's name)
// into the kept file; "" is the newest.
func pickBackup(h *host.Host, f host.ProfileFile, v string) (string, error) {
	all, err := newestFirst(h, f)
	if err != nil {
		return "", err
	}
	if v == "" {
		return all[0], nil
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 1 || n > len(all) {
			return "", usageErrorf("--version %d: %s has %d kept versions (armorer restore --list %s)", n, h.Path(f), len(all), f.Name)
		}
		return all[n-1], nil
	}
	for _, b := range all {
		if filepath.Base(b) == v {
			return b, nil
		}
	}
	return "", usageErrorf("--version %q: no such kept version of %s (armorer restore --list %s)", v, h.Path(f), f.Name)
}
