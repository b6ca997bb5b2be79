package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/armorer-dev/armorer/auditlog/source"
	"github.com/armorer-dev/armorer/kube"
	"github.com/armorer-dev/armorer/kube/apiclient"
)

type k8sEventsOptions struct {
	IO        *IOStreams
	Ctx       context.Context
	Profile   string
	Namespace string
	JSON      bool
	Denied    bool
	Summary   bool
}

func newK8sEventsCmd(f *Factory, runF func(*k8sEventsOptions) error) *cobra.Command {
	o := &k8sEventsOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "events --profile NAME [--namespace NS] [--json] [--summary]",
		Short: "Print the complain-mode events the node agents published for a profile",
		Long: `events gathers, from every node, what the agents (armorer k8s agent
--publish-events) published for profile NAME: the distinct accesses its
complain-mode events asked for on that node, children and hats included,
each shown once with the nodes' counts summed. It prints them as armorer
events does (text, --json, --summary); standard error says which nodes
published, how many accesses each, and how many each dropped to stay within
its 1 MiB (the least frequent first).

The same events are the SOURCE k8s:NAME (or k8s:NAMESPACE/NAME) of every
command, so that  armorer learn k8s:NAME  proposes the rules the fleet
needed. The cluster is found as kubectl finds it: $KUBECONFIG, else
~/.kube/config, else the pod's service account; its user needs list on the
agent namespace's ConfigMaps.

Exit status: 0 printed, 2 usage error, 3 the API could not be read or no
node published events for NAME.`,
		Example: `  armorer k8s events --profile myapp
  armorer k8s events --profile myapp --namespace armorer-system --json
  armorer learn k8s:myapp --diff`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Ctx = cmd.Context()
			if o.Profile == "" {
				return usageErrorf("--profile NAME is required")
			}
			if err := kube.CheckProfileName(o.Profile); err != nil {
				return usageErrorf("--profile %s: %v", o.Profile, err)
			}
			if runF != nil {
				return runF(o)
			}
			return k8sEventsRun(o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Profile, "profile", "", "the profile `NAME` (its ConfigMap key)")
	fl.StringVarP(&o.Namespace, "namespace", "n", kube.DefaultNamespace, "the agents' `namespace`")
	fl.BoolVar(&o.JSON, "json", false, "print one JSON object per event (or the summary as JSON)")
	fl.BoolVar(&o.Denied, "denied", false, "only denials, not complain-mode (ALLOWED) events")
	fl.BoolVar(&o.Summary, "summary", false, "print counts per profile, class, operation and path")
	return cmd
}

// k8sEventsRun is armorer events k8s:NAMESPACE/NAME.
func k8sEventsRun(o *k8sEventsOptions) error {
	return eventsRun(&eventsOptions{
		IO: o.IO, Ctx: o.Ctx, JSON: o.JSON, Denied: o.Denied, Summary: o.Summary,
		Sources: []string{source.K8sScheme + o.Namespace + "/" + o.Profile},
	})
}

// fleetEvents resolves k8s:NAME and k8s:NAMESPACE/NAME for the event
// pipeline: the accesses every node's agent published for profile NAME,
// merged, as an auditd-format log. What it gathered is told on w.
func fleetEvents(ctx context.Context, w io.Writer) func(string) (io.Reader, error) {
	return func(spec string) (io.Reader, error) {
		ns, name := kube.DefaultNamespace, spec
		if i := strings.LastIndexByte(spec, '/'); i >= 0 {
			ns, name = spec[:i], spec[i+1:]
		}
		if err := kube.CheckProfileName(name); err != nil {
			return nil, fmt.Errorf("profile %q: %w", name, err)
		}
		c, err := kubeClient()
		if err != nil {
			return nil, err
		}
		f, err := kube.GatherEvents(ctx, c, ns, name)
		if err != nil {
			return nil, err
		}
		if len(f.Nodes) == 0 {
			return nil, fmt.Errorf("no node published events for %s in namespace %s (do the agents run with --publish-events and --attribution, and is %s loaded in complain mode?)", name, ns, name)
		}
		fmt.Fprintf(w, "k8s:%s/%s: %d distinct accesses from %d nodes\n", ns, name, len(f.Accesses), len(f.Nodes))
		for _, n := range f.Nodes {
			fmt.Fprintf(w, "  %s: %d", n.Node, n.Accesses)
			if n.Dropped > 0 {
				fmt.Fprintf(w, ", %d dropped when its 1 MiB was full (the least frequent)", n.Dropped)
			}
			if !n.Published.IsZero() {
				fmt.Fprintf(w, ", published %s", n.Published.Format("2006-01-02T15:04:05Z07:00"))
			}
			if n.Error != "" {
				fmt.Fprintf(w, "; unreadable: %s", n.Error)
			}
			fmt.Fprintln(w)
		}
		log, err := f.AuditLog()
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(log), nil
	}
}

// kubeClient is the API client for the cluster kubectl would use:
// $KUBECONFIG, ~/.kube/config, or in a pod its service account (client-go's
// clientcmd loads the file, with its exec plugins and merging rules).
func kubeClient() (*apiclient.Client, error) {
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		return nil, errors.New("no cluster to ask: no kubeconfig ($KUBECONFIG or ~/.kube/config) and not in a pod")
	}
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	server := cfg.Host
	if !strings.Contains(server, "://") {
		server = "https://" + server
	}
	return &apiclient.Client{Server: strings.TrimSuffix(server, "/"), HTTP: hc, UserAgent: "armorer"}, nil
}
