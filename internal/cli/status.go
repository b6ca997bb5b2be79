package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/armorer-dev/armorer/host"
	"github.com/spf13/cobra"
)

type statusOptions struct {
	IO   *IOStreams
	Host func() (*host.Host, error)
	JSON bool

	hostFlags // --dir
}

func newStatusCmd(f *Factory, runF func(*statusOptions) error) *cobra.Command {
	opts := &statusOptions{IO: f.IO}
	opts.Host = f.hostFor(&opts.hostFlags)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show loaded profiles, their modes and the processes they confine",
		Long: `Show AppArmor's state, like aa-status: the loaded profiles by mode (enforce,
complain, kill, unconfined, prompt), the processes each confines, and the
processes that run unconfined although a loaded profile attaches to their
executable (they started before the profile was loaded: restart them).

Exit status 3 when AppArmor is not usable here, with what is missing and how
to fix it.`,
		GroupID: "host",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return statusRun(cmd, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON for scripts")
	addDirFlag(cmd, &opts.hostFlags) // for the attachments the kernel does not report
	return cmd
}

// statusJSON is the stable --json shape.
type statusJSON struct {
	Support    *host.Support            `json:"support"`
	Profiles   []host.LoadedProfile     `json:"profiles"`
	ByMode     map[host.Mode][]string   `json:"by_mode"`
	Processes  []host.Process           `json:"processes"`
	Unconfined []host.UnconfinedProcess `json:"unconfined"`
	Unreadable int                      `json:"unreadable_processes"`
}

func statusRun(cmd *cobra.Command, o *statusOptions) error {
	h, err := o.Host()
	if err != nil {
		return &EnvError{Err: err}
	}
	st, err := h.Status(cmd.Context(), nil)
	if err != nil {
		return hostError(err)
	}
	if o.JSON {
		by := st.ByMode()
		for _, m := range host.Modes {
			if by[m] == nil {
				by[m] = []string{}
			}
		}
		if st.Profiles == nil {
			st.Profiles = []host.LoadedProfile{}
		}
		enc := json.NewEncoder(o.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(statusJSON{Support: st.Support, Profiles: st.Profiles, ByMode: by, Processes: st.Processes, Unconfined: st.Unconfined, Unreadable: st.Unreadable})
	}
	printStatus(o.IO.Out, st)
	return nil
}

func printStatus(w io.Writer, st *host.Status) {
	fmt.Fprintln(w, "apparmor module is loaded.")
	if st.Support.PolicyLocked {
		fmt.Fprintln(w, "policy is locked: loads and removals are refused until reboot.")
	}
	fmt.Fprintf(w, "%d profiles are loaded.\n", len(st.Profiles))
	by := st.ByMode()
	for _, m := range host.Modes {
		if m == host.Mixed || (len(by[m]) == 0 && (m == host.Prompt || m == host.Unconfined)) {
			continue
		}
		fmt.Fprintf(w, "%d profiles are in %s mode.\n", len(by[m]), m)
		for _, n := range by[m] {
			fmt.Fprintf(w, "   %s\n", n)
		}
	}
	fmt.Fprintf(w, "%d processes have profiles defined.\n", len(st.Processes)+len(st.Unconfined))
	procBy := map[host.Mode][]host.Process{}
	for _, p := range st.Processes {
		procBy[p.Mode] = append(procBy[p.Mode], p)
	}
	for _, m := range host.Modes {
		if m == host.Unconfined || (len(procBy[m]) == 0 && m != host.Enforce && m != host.Complain) {
			continue
		}
		fmt.Fprintf(w, "%d processes are in %s mode.\n", len(procBy[m]), m)
		for _, p := range procBy[m] {
			fmt.Fprintf(w, "   %s (%d) %s\n", exeOrComm(p), p.PID, p.Profile)
		}
	}
	if st.Unreadable > 0 {
		fmt.Fprintf(w, "%d processes could not be read (run as root to see them).\n", st.Unreadable)
	}
	fmt.Fprintf(w, "%d processes are unconfined but have a profile defined.\n", len(st.Unconfined))
	for _, p := range st.Unconfined {
		via := ""
		if p.Unit != "" {
			via = " (AppArmorProfile= of " + p.Unit + ")"
		}
		fmt.Fprintf(w, "   %s (%d) %s%s\n", exeOrComm(p.Process), p.PID, p.ShouldBe, via)
	}
}

func exeOrComm(p host.Process) string {
	if p.Exe != "" {
		return p.Exe
	}
	return p.Comm
}
