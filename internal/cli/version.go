package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/armorer-dev/armorer/internal/buildinfo"
	"github.com/armorer-dev/armorer/monitor"
)

type versionOptions struct {
	IO   *IOStreams
	JSON bool
	Info buildinfo.Info
}

func newVersionCmd(f *Factory, runF func(*versionOptions) error) *cobra.Command {
	o := &versionOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print armorer's version, commit, build date and Go version",
		Long: `Print which armorer this is: the release version, the git commit and build
date it was built from, and the Go toolchain. A binary from 'make release'
carries all of them; one from 'go build' says (devel) and, when the toolchain
recorded it, the commit.

--json prints {"version", "commit", "date", "go_version", "modified"}, with
empty fields left out.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Info = buildinfo.Get()
			if runF != nil {
				return runF(o)
			}
			return versionRun(o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the build information as one JSON object")
	return cmd
}

func versionRun(o *versionOptions) error {
	if o.JSON {
		return writeJSONLine(o.IO.Out, o.Info)
	}
	i := o.Info
	fmt.Fprintf(o.IO.Out, "armorer %s\n", i.Version)
	if i.Commit != "" {
		dirty := ""
		if i.Modified {
			dirty = " (modified)"
		}
		fmt.Fprintf(o.IO.Out, "commit:  %s%s\n", i.Commit, dirty)
	}
	if i.Date != "" {
		fmt.Fprintf(o.IO.Out, "built:   %s\n", i.Date)
	}
	fmt.Fprintf(o.IO.Out, "go:      %s\n", i.GoVersion)
	return nil
}

// versionString is what --version prints after "armorer version ".
func versionString() string { return buildinfo.Get().Version }

// monitorBuild is this build as armorer_build_info reports it.
func monitorBuild() monitor.BuildInfo {
	i := buildinfo.Get()
	return monitor.BuildInfo{Version: i.Version, Revision: i.Commit, GoVersion: i.GoVersion}
}
