package cli

import (
	"context"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/kube"
	"github.com/armorer-dev/armorer/kube/agent"
)

type k8sAgentOptions struct {
	IO  *IOStreams
	Ctx context.Context

	Profiles    string
	StateDir    string
	Includes    string
	Listen      string
	Attribution bool
	Sources     []string
	RuntimeRoot string
	Resync      time.Duration
	NodeLabel   bool
	AllowAttach bool
	ListenPodIP bool
	Publish     bool
	EventsNS    string
	PublishEach time.Duration

	// paths are the host roots (securityfs, /proc, apparmor_parser),
	// moved by the ARMORER_* environment in tests.
	paths host.Paths
	// listening, when set (tests), receives the server's address.
	listening func(addr string)
}

func newK8sAgentCmd(f *Factory, runF func(*k8sAgentOptions) error) *cobra.Command {
	o := &k8sAgentOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "agent --profiles DIR [--state-dir DIR] [--includes DIR] [--listen ADDR] [--attribution]",
		Short: "Node agent: load the profiles ConfigMap on this node, safely (long-running)",
		Long: `The node agent, run by a DaemonSet on every node. It watches --profiles, the
profiles ConfigMap mounted as a volume (one key per profile, the key being the
profile's name), and converges the kernel towards it on every swap of the
volume's ..data link (kubelet's atomic update) and every --resync:

  - every profile is validated first (armorer's checker with --includes as the
    search path, then apparmor_parser -QK against this node's kernel features);
    an invalid one is reported and skipped, its previously loaded version stays;
  - accepted files are kept in --state-dir/profiles, never in /etc/apparmor.d,
    so a bad profile cannot break the host's apparmor.service at boot;
  - the agent owns only what it loaded (--state-dir/k8s-agent-owned.json): it
    refuses the runtimes' profiles (runc, crun, cri-containerd.apparmor.d,
    docker-default, unconfined), the distribution's (any profile or file in
    --includes) and any profile someone else loaded;
  - a profile removed from the ConfigMap is unloaded only when no process is
    confined by it; otherwise it stays loaded and /status says so;
  - a profile with a path attachment (profile x /usr/bin/** {…}) is refused, as
    it would confine the host's processes that match it on every node
    (containers are attached by name), unless --allow-attachments;
  - the mode is the profile's own flags: edit flags=(complain) in the ConfigMap
    and the agent reloads the same name in the new mode; pods keep running.

It serves on --listen (without authentication: with --attribution, which needs
the node's network, give --listen-pod-ip, as armorer k8s manifests does, so that
only the node's internal address serves it): /healthz, /readyz (200 only once every profile of the
ConfigMap is loaded), /status (JSON per profile: desired and loaded sha256,
mode, state, error), /metrics, and with --attribution /denials: denials read
from --source (default: the first of netlink:, auditd:, journal:, kmsg: that
opens) attributed to namespace, pod and container through /proc/PID/cgroup and
the container runtime's OCI config (metric labels: namespace and workload only);
the events of its complain-mode profiles are kept in --state-dir/events, for
armorer learn state:NAME. With --publish-events (and --attribution) it also
publishes them through the API, for armorer k8s events and armorer learn
k8s:NAME: the distinct accesses per profile, with counts, in the ConfigMap
armorer-events-$NODE_NAME of --events-namespace, at most 1 MiB (the least
frequent accesses are dropped first, and counted). With --node-label it
labels its node (NODE_NAME) with the loaded set's hash while ready, and
removes the label while not. Both use the pod's service account.`,
		Example: `  armorer k8s agent --profiles /etc/armorer/profiles
  armorer k8s agent --profiles /etc/armorer/profiles --includes /host/etc/apparmor.d --attribution --source kmsg:`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Ctx = cmd.Context()
			if runF != nil {
				return runF(o)
			}
			return k8sAgentRun(o)
		},
	}
	o.paths = HostPathsFromEnv()
	fl := cmd.Flags()
	fl.StringVar(&o.Profiles, "profiles", "", "the profiles ConfigMap volume `DIR` (required)")
	fl.StringVar(&o.StateDir, "state-dir", o.paths.StateDir, "the agent's own state `DIR`: ownership record, accepted profiles, backups")
	fl.StringVar(&o.Includes, "includes", agent.DefaultIncludes, "tunables and abstractions search `DIR` (the host's /etc/apparmor.d, read-only)")
	fl.StringVar(&o.Listen, "listen", agent.DefaultListen, "`address` for /healthz, /readyz, /status, /metrics and /denials")
	fl.BoolVar(&o.ListenPodIP, "listen-pod-ip", false, "listen on $POD_IP (the downward API's status.podIP) at --listen's port, not on every address: with --attribution (hostNetwork) the port is the node's")
	fl.BoolVar(&o.Attribution, "attribution", false, "read denials and attribute them to pods (needs hostPID and the runtime's state directory)")
	fl.StringArrayVar(&o.Sources, "source", nil, "with --attribution, read this `SOURCE` (repeatable): kmsg:, netlink:, auditd:[PATH], journal:[PATH]")
	fl.StringVar(&o.RuntimeRoot, "runtime-root", "/", "with --attribution, the `DIR` under which /run/containerd, /run/containers and /run/runc are found")
	fl.DurationVar(&o.Resync, "resync", agent.DefaultResync, "reconcile at least this often, even without a change of the volume")
	fl.BoolVar(&o.AllowAttach, "allow-attachments", false, "accept profiles with a path attachment (profile x /usr/bin/** {…}), which confine matching host processes on every node")
	fl.BoolVar(&o.NodeLabel, "node-label", false, "label the node $NODE_NAME with "+agent.NodeLabelKey+"=<hash of the loaded set> while ready (RBAC: get, patch nodes)")
	fl.BoolVar(&o.Publish, "publish-events", false, "with --attribution, publish the complain-mode accesses in the ConfigMap armorer-events-$NODE_NAME (RBAC: create, get, update configmaps)")
	fl.StringVar(&o.EventsNS, "events-namespace", kube.DefaultNamespace, "with --publish-events, the `namespace` of the events ConfigMap (the agent's own)")
	fl.DurationVar(&o.PublishEach, "publish-interval", agent.DefaultPublishInterval, "with --publish-events, write the changed accesses at most this often")
	return cmd
}

func k8sAgentRun(o *k8sAgentOptions) error {
	if o.Profiles == "" {
		return usageErrorf("k8s agent needs --profiles DIR (the mounted profiles ConfigMap)")
	}
	if o.Resync <= 0 {
		return usageErrorf("--resync must be positive")
	}
	if len(o.Sources) > 0 && !o.Attribution {
		return usageErrorf("--source needs --attribution")
	}
	if o.Publish && !o.Attribution {
		return usageErrorf("--publish-events needs --attribution: the events are read with the denials")
	}
	if o.PublishEach <= 0 {
		return usageErrorf("--publish-interval must be positive")
	}
	if o.ListenPodIP {
		ip := net.ParseIP(os.Getenv("POD_IP"))
		_, port, err := net.SplitHostPort(o.Listen)
		if ip == nil || err != nil {
			return usageErrorf("--listen-pod-ip needs POD_IP, the pod's IP (env from the downward API's status.podIP), and --listen [HOST]:PORT")
		}
		o.Listen = net.JoinHostPort(ip.String(), port)
	}
	node := ""
	if o.NodeLabel || o.Publish {
		if node = os.Getenv("NODE_NAME"); node == "" {
			flag := "--node-label"
			if !o.NodeLabel {
				flag = "--publish-events"
			}
			return usageErrorf("%s needs NODE_NAME, the node's name (env from the downward API's spec.nodeName)", flag)
		}
		if err := kube.CheckEventsNode(node); o.Publish && err != nil {
			return usageErrorf("--publish-events: %v", err)
		}
	}
	labelNode := ""
	if o.NodeLabel {
		labelNode = node
	}
	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	err := agent.Serve(ctx, agent.Options{
		Config: agent.Config{
			ProfilesDir: o.Profiles,
			StateDir:    o.StateDir,
			Includes:    o.Includes,
			Resync:      o.Resync,
			Host:        o.paths,
			// a path attachment confines host processes on every node
			AllowAttachments: o.AllowAttach,
			Logger:           slog.New(slog.NewTextHandler(o.IO.ErrOut, nil)),
		},
		Listen:          o.Listen,
		Attribution:     o.Attribution,
		Sources:         o.Sources,
		RuntimeRoot:     o.RuntimeRoot,
		NodeName:        labelNode,
		PublishEvents:   o.Publish,
		PublishNode:     node,
		EventsNamespace: o.EventsNS,
		PublishInterval: o.PublishEach,
		Listening:       o.listening,
	})
	if err != nil && ctx.Err() == nil {
		return hostError(err)
	}
	return nil
}
