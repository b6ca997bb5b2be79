package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/library"
	"github.com/spf13/cobra"
)

// newLibraryCmd is the parent of list, show and install: the profiles
// for common services that armorer carries in its binary.
func newLibraryCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "library <command>",
		Short: "The embedded profiles for common services: list, show, install",
		Long: `armorer carries a library of profiles for common services (nginx,
PostgreSQL, Redis, ...), each learned by armorer from a real workload on a
real AppArmor kernel, reviewed, and proven in enforce mode: the normal
workload runs with zero denials and each service's known attacks are denied.
They are embedded in the binary: installing one needs no network.`,
		GroupID: "profile",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	for _, c := range []*cobra.Command{
		newLibraryListCmd(f),
		newLibraryShowCmd(f),
		newLibraryInstallCmd(f),
	} {
		cmd.AddCommand(c)
	}
	return cmd
}

type libraryListReport struct {
	Schema   string            `json:"schema"`
	Profiles []library.Profile `json:"profiles"`
}

func newLibraryListCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the library's profiles: what each attaches to, its abstractions, where it was proven",
		Long: `For each profile of the library: its name (what Kubernetes and the kernel
call it), what it attaches to, the abstractions it includes (those marked *
come with it, the others are the host's), and the kernels it was proven on
in enforce mode.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			all, err := library.List()
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(f.IO.Out, libraryListReport{Schema: schemaName("library-list"), Profiles: all})
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tATTACHES TO\tABSTRACTIONS\tPROVEN ON")
			for _, p := range all {
				var abs []string
				for _, a := range p.Abstractions {
					name := strings.TrimPrefix(a, "abstractions/")
					for _, o := range p.Own {
						if o == a {
							name += "*"
						}
					}
					abs = append(abs, name)
				}
				proven := strings.Join(p.ProvenOn, ", ")
				if proven == "" {
					proven = "not proven"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, orDash(p.Attach), orDash(strings.Join(abs, ",")), proven)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as one JSON document (docs/json.md)")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newLibraryShowCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Print a library profile",
		Long: `Print the library's profile NAME as install would write it (without
--complain): its header says how it was learned and proven, and a comment
beside each rule that a reviewer accepted says why it is needed.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, src, err := library.Lookup(args[0])
			if err != nil {
				return libraryError(err)
			}
			_, err = f.IO.Out.Write(src)
			return err
		},
	}
}

type libraryInstallOptions struct {
	IO   *IOStreams
	Host func() (*host.Host, error)
	Name string
	JSON bool
	library.InstallOptions

	hostFlags // --dir, --state-dir, --no-load
}

type libraryInstallReport struct {
	Schema string                 `json:"schema"`
	Result *library.InstallResult `json:"result,omitempty"`
	Next   []string               `json:"next"`
	Error  string                 `json:"error,omitempty"`
	Exit   int                    `json:"exit_code"`
}

func newLibraryInstallCmd(f *Factory) *cobra.Command {
	o := &libraryInstallOptions{IO: f.IO}
	o.Host = f.hostFor(&o.hostFlags)
	cmd := &cobra.Command{
		Use:   "install [--complain] [--force] NAME",
		Short: "Install a library profile into the profile directory and load it",
		Long: `Write the library's profile NAME into the profile directory as the file
NAME, with the library's abstractions it includes, and load it. First the
host's apparmor_parser compiles it (-QK) against the directory's own
abstractions and tunables: a profile that does not compile here (an
abstraction the directory lacks) exits 1 and nothing is written. The files
are written atomically under the directory's lock, the previous version of
each is kept in the state directory (armorer restore brings it back), and if
the kernel rejects the profile everything is put back (exit 3).

An empty local/NAME is created when there is none, for site additions (the
profile includes it last); an existing one is never touched. A file that
exists and differs from the library's (learn --write, a hand edit) is left
as it is and install exits 1: --force replaces it, keeping its previous
version. --complain installs in complain mode: run the service under its
usual load for a while, then armorer learn --profile NAME shows what the
profile lacks and armorer enforce NAME enforces it.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			return libraryInstallRun(cmd, o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.Complain, "complain", false, "install in complain mode (flags=(complain)), for a soak before enforcing")
	fl.BoolVar(&o.Force, "force", false, "replace files that exist and differ (their previous versions are kept)")
	fl.BoolVar(&o.JSON, "json", false, "print what was installed as one JSON document (docs/json.md)")
	addHostFlags(cmd, &o.hostFlags, "write the files")
	return cmd
}

func libraryInstallRun(cmd *cobra.Command, o *libraryInstallOptions) error {
	res, err := libraryInstall(cmd, o)
	if o.JSON {
		rep := libraryInstallReport{Schema: schemaName("library-install"), Result: res, Next: []string{}, Exit: exitCode(err)}
		if err != nil {
			rep.Error = err.Error()
		} else {
			rep.Next = nextSteps(o, res)
		}
		if werr := writeJSON(o.IO.Out, rep); werr != nil {
			return werr
		}
		return err
	}
	if err != nil {
		return err
	}
	printInstall(o.IO.Out, o.IO.ErrOut, res)
	fmt.Fprintln(o.IO.ErrOut, "next:")
	for _, s := range nextSteps(o, res) {
		fmt.Fprintf(o.IO.ErrOut, "  %s\n", s)
	}
	return nil
}

func libraryInstall(cmd *cobra.Command, o *libraryInstallOptions) (*library.InstallResult, error) {
	if _, _, err := library.Lookup(o.Name); err != nil {
		return nil, libraryError(err)
	}
	h, err := o.Host()
	if err != nil {
		return nil, &EnvError{Err: err}
	}
	if fi, err := os.Stat(h.Paths.ProfileDir); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, usageErrorf("profile directory %s: %v (--dir names an existing profile directory)", h.Paths.ProfileDir, err)
	}
	if !h.NoLoad {
		if h, err = requireKernel(cmd.Context(), o.Host); err != nil {
			return nil, err
		}
	}
	res, err := library.Install(cmd.Context(), h, o.Name, o.InstallOptions)
	return res, libraryError(err)
}

// libraryError maps library's errors to exit codes (see hostError).
func libraryError(err error) error {
	var (
		nf *library.NotFoundError
		ce *library.ConflictError
		de *library.DuplicateError
		ie *host.InvalidProfileError
		hc *host.ConflictError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &nf):
		return &FlagError{Err: err}
	case errors.As(err, &ce), errors.As(err, &de), errors.As(err, &hc):
		return &FoundError{Msg: err.Error()}
	case errors.As(err, &ie):
		return &FoundError{Msg: "does not compile against this profile directory; nothing was written:\n  " +
			strings.ReplaceAll(strings.TrimSpace(ie.Error()), "\n", "\n  ") +
			"\n  a missing abstraction or tunable comes with the apparmor package (Debian: apt install apparmor); with --dir, copy the host's abstractions/, tunables/ and abi/ there"}
	}
	return hostError(err)
}

// printInstall writes one line per file, then what the kernel was told.
func printInstall(out, errOut io.Writer, res *library.InstallResult) {
	for _, f := range res.Files {
		switch {
		case f.Action == library.Kept:
			fmt.Fprintf(out, "kept %s (local additions are yours)\n", f.Path)
		case f.Path == res.File:
			fmt.Fprintf(out, "%s %s (%s)\n", f.Action, f.Path, res.Mode)
		default:
			fmt.Fprintf(out, "%s %s\n", f.Action, f.Path)
		}
		if f.Backup != "" {
			fmt.Fprintf(errOut, "previous version kept in %s\n", f.Backup)
		}
	}
	switch res.Kernel {
	case "":
		fmt.Fprintf(out, "not loaded (--no-load): %s\n", res.Profile)
	default:
		fmt.Fprintf(out, "%s %s (%s)\n", res.Kernel, res.Profile, res.Mode)
	}
}

// nextSteps is what to do after an install: a soak and enforce after a
// complain-mode install, watching for denials after an enforcing one.
func nextSteps(o *libraryInstallOptions, res *library.InstallResult) []string {
	name := shellQuote(res.Profile)
	dir := ""
	if o.Dir != "" {
		dir = " --dir " + shellQuote(o.Dir)
	}
	var steps []string
	if res.Kernel == "" {
		steps = append(steps, fmt.Sprintf("armorer load%s %s: load it (nothing was loaded)", dir, name))
	}
	steps = append(steps, fmt.Sprintf("restart %s: processes started before the profile was loaded stay unconfined", res.Profile))
	if res.Mode == host.Complain {
		steps = append(steps,
			"soak: run the service under its usual load for a while (complain mode logs what it would deny)",
			fmt.Sprintf("armorer learn%s --profile %s kmsg: the rules the soak showed, as a diff; review, then add --write (or put site rules in local/%s)", dir, name, res.Profile),
			fmt.Sprintf("armorer enforce%s %s: enforce it once the soak shows nothing new", dir, name))
	} else {
		steps = append(steps,
			fmt.Sprintf("armorer events --denied --profile %s kmsg: what it denies, if the service misbehaves", name),
			fmt.Sprintf("armorer learn%s --profile %s kmsg: the rules those denials ask for, as a diff (site rules go in local/%s)", dir, name, res.Profile))
	}
	return steps
}
