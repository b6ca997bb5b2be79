package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/armorer-dev/armorer/kube"
	"github.com/armorer-dev/armorer/policy"
)

type k8sManifestsOptions struct {
	IO       *IOStreams
	Ctx      context.Context
	Profiles string
	Includes []string
	kube.ManifestOptions
}

func newK8sManifestsCmd(f *Factory, runF func(*k8sManifestsOptions) error) *cobra.Command {
	o := &k8sManifestsOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "manifests --profiles DIR [--namespace NS] [--image IMG] [--attribution] [--node-label] [--publish-events] [--service-monitor]",
		Short: "Print the manifests that run the agent on every node, with DIR's profiles",
		Long: `manifests prints, as multi-document YAML for kubectl apply, what runs
armorer's agent on every Linux node: a Namespace (Pod Security level
privileged, for the agent alone), a ServiceAccount without API access, the
ConfigMap of profiles (one key per profile, the key being the profile's
name) and the DaemonSet; --service-monitor adds a headless Service and a
prometheus-operator ServiceMonitor.

Every profile file in DIR is checked first (syntax, includes resolved with
-I and /etc/apparmor.d, what apparmor_parser would reject), must define
exactly one top-level profile named as a ConfigMap key allows, must not take
a container runtime's name, and all must fit in one ConfigMap (1 MiB).

The agent runs unconfined by AppArmor, not privileged: root with only
CAP_MAC_ADMIN, the host's /sys/kernel/security, its own /var/lib/armorer and
the host's /etc/apparmor.d read-only. --attribution adds hostPID, the host
network and CAP_AUDIT_READ (denials from the audit netlink socket, attributed
to pods) and the container runtimes' state read-only. --node-label has the
agent label its node with a hash of the loaded set: the only feature that
talks to the API, it adds the service account token, NODE_NAME and a
ClusterRole with patch on nodes, bound to the agent. --publish-events (with
--attribution) has each agent publish its complain-mode accesses in the
ConfigMap armorer-events-NODE, for armorer k8s events and armorer learn
k8s:NAME: a Role with get, create and update on the namespace's ConfigMaps.
RBAC cannot name "my own node's object", so with either feature a
ValidatingAdmissionPolicy holds each agent to its own node (the node named by
its pod-bound token): it may label only its Node and write only its events
ConfigMap, never the profiles. docs/kubernetes.md justifies each privilege.

Exit status: 0 printed, 1 a profile is refused, 2 usage error or DIR unreadable.`,
		Example: `  armorer k8s manifests --profiles ./profiles | kubectl apply -f -
  armorer k8s manifests --profiles ./profiles --attribution --node-label --service-monitor
  armorer k8s manifests --profiles ./profiles --attribution --publish-events`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Ctx = cmd.Context()
			if o.Profiles == "" {
				return usageErrorf("--profiles DIR is required")
			}
			if runF != nil {
				return runF(o)
			}
			return k8sManifestsRun(o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Profiles, "profiles", "", "the profile `DIR` whose files become the ConfigMap")
	fl.StringArrayVarP(&o.Includes, "include", "I", nil, "add `DIR` to the include search path for checking (before /etc/apparmor.d)")
	fl.StringVar(&o.Namespace, "namespace", kube.DefaultNamespace, "the `namespace` to create and deploy into")
	fl.StringVar(&o.Image, "image", kube.DefaultImage, "the agent's container `image`")
	fl.Int32Var(&o.Port, "port", kube.DefaultPort, "the agent's HTTP `port` (probes, /status, /metrics)")
	fl.BoolVar(&o.Attribution, "attribution", false, "attribute denials to pods (hostPID, host network, CAP_AUDIT_READ)")
	fl.BoolVar(&o.NodeLabel, "node-label", false, "let the agent label its node with a hash of the loaded set (ClusterRole: get, patch nodes)")
	fl.BoolVar(&o.PublishEvents, "publish-events", false, "with --attribution, let each agent publish its complain-mode accesses for armorer k8s events (Role: get, create, update configmaps; held to its own node's object by an admission policy)")
	fl.BoolVar(&o.ServiceMonitor, "service-monitor", false, "add a headless Service and a prometheus-operator ServiceMonitor")
	return cmd
}

func k8sManifestsRun(o *k8sManifestsOptions) error {
	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if errs := validation.IsDNS1123Label(o.Namespace); len(errs) > 0 {
		return usageErrorf("--namespace %q: %s", o.Namespace, strings.Join(errs, "; "))
	}
	if o.PublishEvents && !o.Attribution {
		return usageErrorf("--publish-events needs --attribution: the agent reads the events with the denials")
	}
	if o.Port < 1 || o.Port > 65535 {
		return usageErrorf("--port %d: not a TCP port", o.Port)
	}
	search := append(append([]string{}, o.Includes...), policy.DefaultIncludeDir)
	profiles, err := kube.ReadProfiles(o.Profiles, search, installedVersion(ctx))
	var perr *kube.ProfileError
	switch {
	case errors.As(err, &perr):
		fmt.Fprintln(o.IO.ErrOut, err)
		return &FoundError{Msg: fmt.Sprintf("%d problems in %s; nothing printed", len(perr.Problems), o.Profiles), Silent: false}
	case err != nil:
		return &FlagError{Err: err}
	}
	o.ManifestOptions.Profiles = profiles
	out, err := kube.MarshalYAML(kube.Objects(o.ManifestOptions))
	if err != nil {
		return err
	}
	_, err = o.IO.Out.Write(out)
	return err
}
