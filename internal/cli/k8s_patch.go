package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/armorer-dev/armorer/kube"
)

type k8sPatchOptions struct {
	IO   *IOStreams
	File string
	kube.PatchOptions
}

func newK8sPatchCmd(f *Factory, runF func(*k8sPatchOptions) error) *cobra.Command {
	o := &k8sPatchOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "patch -f FILE --container C --profile NAME [--pod-level] [--legacy-annotation]",
		Short: "Set a Localhost AppArmor profile in the pod templates of a YAML file",
		Long: `patch prints FILE (multi-document YAML, - for stdin) with
securityContext.appArmorProfile {type: Localhost, localhostProfile: NAME} set
on container C of every Pod and of every Deployment, StatefulSet, DaemonSet,
ReplicaSet, Job and CronJob template (and List items) that has one. With
--pod-level the PodSpec's securityContext gets it instead: the default of
every container (then --container is optional and limits the annotation).
Every other field and every comment stays; documents without a change are
copied byte for byte.

--legacy-annotation also writes container.apparmor.security.beta.kubernetes.io/C:
localhost/NAME for clusters older than 1.30 (deprecated; a warning says so).
Without it, an existing annotation that would disagree with the new field is
updated too, since the API server rejects a disagreement.

Exit status: 0 patched, 1 nothing in FILE to patch, 2 usage error or FILE unreadable.`,
		Example: `  armorer k8s patch -f deploy.yaml --container web --profile myapp > deploy.patched.yaml
  kubectl get deploy web -o yaml | armorer k8s patch -f - --container web --profile myapp | kubectl apply -f -`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case o.File == "":
				return usageErrorf("-f FILE is required")
			case o.Profile == "":
				return usageErrorf("--profile NAME is required")
			case o.Container == "" && !o.PodLevel:
				return usageErrorf("--container C is required (or --pod-level for every container)")
			}
			if runF != nil {
				return runF(o)
			}
			return k8sPatchRun(o)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.File, "filename", "f", "", "the YAML `FILE` to patch (- for stdin)")
	fl.StringVar(&o.Container, "container", "", "the container `C` to confine")
	fl.StringVar(&o.Profile, "profile", "", "the profile `NAME` (as loaded on the nodes)")
	fl.BoolVar(&o.PodLevel, "pod-level", false, "set the pod's default profile instead of the container's")
	fl.BoolVar(&o.LegacyAnnotation, "legacy-annotation", false, "also write the deprecated pre-1.30 annotation")
	return cmd
}

// readInput reads a -f argument: a file, or stdin for "-".
func readInput(io_ *IOStreams, name string) ([]byte, string, error) {
	if name == "-" {
		b, err := io.ReadAll(io_.In)
		return b, "<stdin>", err
	}
	b, err := os.ReadFile(name)
	return b, name, err
}

func k8sPatchRun(o *k8sPatchOptions) error {
	src, name, err := readInput(o.IO, o.File)
	if err != nil {
		return &FlagError{Err: err}
	}
	res, err := kube.Patch(name, src, o.PatchOptions)
	var none *kube.NothingToPatchError
	var pos *kube.PositionError
	switch {
	case errors.As(err, &none):
		return &FoundError{Msg: err.Error()}
	case errors.As(err, &pos):
		return &FlagError{Err: err}
	case err != nil:
		return &FlagError{Err: err}
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(o.IO.ErrOut, "warning: %s\n", w)
	}
	_, err = o.IO.Out.Write(res.Out)
	return err
}
