package cli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/kube"
)

type k8sCheckOptions struct {
	IO       *IOStreams
	File     string
	Profiles string
	JSON     bool
}

func newK8sCheckCmd(f *Factory, runF func(*k8sCheckOptions) error) *cobra.Command {
	o := &k8sCheckOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "check -f FILE --profiles DIR [--json]",
		Short: "Check the AppArmor settings of the pods in a YAML file against a profile set",
		Long: `check reads FILE (multi-document YAML, - for stdin) and reports, for every
Pod and workload template, with file:line:col:
  profile-not-found       a Localhost profile that no file of DIR defines
  localhost-without-name  type Localhost without localhostProfile (rejected by the API)
  unconfined              a container that asks to run unconfined
  annotation-only         only the deprecated annotation sets the profile
  mismatch                annotation and field disagree (rejected by the API)
  bad-annotation          an annotation value that is no profile reference
  unknown-container       an annotation for a container the pod does not have

Exit status: 0 nothing found, 1 something found, 2 usage error or unreadable input.`,
		Example: `  armorer k8s check -f deploy.yaml --profiles ./profiles
  kubectl get pods -A -o yaml | armorer k8s check -f - --profiles ./profiles --json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case o.File == "":
				return usageErrorf("-f FILE is required")
			case o.Profiles == "":
				return usageErrorf("--profiles DIR is required")
			}
			if runF != nil {
				return runF(o)
			}
			return k8sCheckRun(o)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.File, "filename", "f", "", "the YAML `FILE` to check (- for stdin)")
	fl.StringVar(&o.Profiles, "profiles", "", "the profile `DIR` deployed to the nodes")
	fl.BoolVar(&o.JSON, "json", false, "print the findings as JSON")
	return cmd
}

func k8sCheckRun(o *k8sCheckOptions) error {
	if fi, err := os.Stat(o.Profiles); err != nil || !fi.IsDir() {
		return usageErrorf("--profiles %s: not a readable directory", o.Profiles)
	}
	names, err := host.New(host.Paths{ProfileDir: o.Profiles}, nil).DefinedProfiles()
	if err != nil {
		return &FlagError{Err: fmt.Errorf("read profiles: %w", err)}
	}
	src, name, err := readInput(o.IO, o.File)
	if err != nil {
		return &FlagError{Err: err}
	}
	findings, err := kube.CheckWorkloads(name, src, names)
	if err != nil {
		return &FlagError{Err: err}
	}
	if o.JSON {
		if findings == nil {
			findings = []kube.Finding{}
		}
		enc := json.NewEncoder(o.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"findings": findings}); err != nil {
			return err
		}
	} else {
		for _, f := range findings {
			fmt.Fprintln(o.IO.Out, f)
		}
	}
	if len(findings) > 0 {
		return &FoundError{Msg: fmt.Sprintf("%d findings in %s", len(findings), name), Silent: o.JSON}
	}
	return nil
}
