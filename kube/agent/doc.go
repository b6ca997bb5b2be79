// Package agent is armorer's Kubernetes node agent (armorer k8s agent): it
// loads the profiles of a ConfigMap on its node, safely, and attributes
// denials to pods. Each rule below fixes a flaw of the loader people copy,
// a DaemonSet running `cp /profiles/* /etc/apparmor.d/ && apparmor_parser -r`.
//
// # The volume
//
// The ConfigMap is mounted as a volume: one key per profile, the key being
// the profile's name (the name pods give in localhostProfile). kubelet's
// atomic writer puts each version in a timestamped directory and switches
// a ..data symlink to it with one rename; the agent reacts to that switch
// (fsnotify on the directory) and reconciles at least every Config.Resync,
// always reading one whole version through ..data (ReadVolume). It is
// level-triggered: every reconcile compares the volume, the ownership
// record and the kernel, and does only what differs.
//
// # Validation before load
//
// Each changed profile is checked by armorer's parser and checker (the
// includes directory, normally the host's /etc/apparmor.d mounted
// read-only, is the search path), must define exactly one top-level
// profile named as its key (children and hats of it are fine), and is
// compiled by apparmor_parser -QK against the node's kernel features
// (--kernel-features from securityfs) before anything is loaded. One
// invalid profile is reported in /status and skipped; the others load; the
// version loaded before stays loaded (and after a reboot the agent loads
// that last accepted version again). Accepted files live in
// StateDir/profiles, never in /etc/apparmor.d: apparmor.service never
// reads them at boot, so a bad ConfigMap cannot break the host's boot
// policy.
//
// # Ownership
//
// StateDir/k8s-agent-owned.json (written atomically, the intent recorded
// before the kernel is touched) lists what the agent loaded, with each
// version's sha256 and mode. The agent replaces and unloads only those. It
// refuses names of container runtimes (kube.RuntimeProfiles: runc, crun,
// cri-containerd.apparmor.d, docker-default, …), names of the
// distribution (any profile or file name in the includes directory), and
// any profile loaded that it does not own. A profile removed from the
// ConfigMap is unloaded only when no process is confined by it; until then
// it stays loaded and /status reports it (state in-use).
//
// # Modes
//
// The mode is the profile's own flags, as everywhere in armorer: change
// flags=(complain) in the ConfigMap and the agent reloads the same name in
// the new mode. A replace keeps the name, so running pods keep their
// profile and switch mode without a restart.
//
// # Readiness and metrics
//
// /readyz answers 200 only after the first reconcile, and only while every
// profile of the ConfigMap is loaded (a refused or never-valid profile
// keeps the node unready: pods needing it would fail with "profile not
// found"). /status is JSON per profile (Status). /metrics carries the
// monitor's metrics (armorer_apparmor_profile_loaded{profile} for the
// ConfigMap's profiles, armorer_apparmor_profiles{mode}, …) and the
// agent's own (armorer_agent_ready, armorer_agent_profile_current{profile},
// armorer_agent_reconciles_total{result}). With a node name (--node-label)
// the agent keeps the label armorer.dev/profiles on its Node: the loaded
// set's hash while ready, none while not (NodeLabeler, one merge patch
// through the pod's service account). The agent's API calls go through
// kube/apiclient: net/http with the pod's CA and its projected token,
// re-read for every request since the kubelet rotates it.
//
// # Denials
//
// With attribution, the monitor's event pipeline (monitor.Runner over
// auditlog/source) feeds an Attributor: the event's PID → /proc/PID/cgroup
// (ParseCgroup: containerd, CRI-O and docker path forms, systemd and
// cgroupfs drivers, cgroup v1 and v2) → pod UID and container ID → the
// container's OCI config.json in the runtime's state directory, whose
// annotations name namespace, pod and container. That needs hostPID and
// the runtime's state directory read-only, but no API access or RBAC.
// Counters carry namespace, workload (the controller, from the pod's
// name) and profile only; /denials lists the details. Denials of runc's
// init, before the workload's exec, are runtime noise and counted apart.
//
// The events of the agent's complain-mode profiles go to the event store
// (StateDir/events/NAME.jsonl, deduplicated, capped), so that on the node
// `armorer learn state:NAME` proposes the rules its pods needed. With
// --publish-events the Publisher also counts them per distinct access and
// publishes them through the API, in the ConfigMap armorer-events-NODE
// (at most 1 MiB: the least frequent accesses are dropped first, and
// counted), so that `armorer k8s events` and `armorer learn k8s:NAME`
// see the whole fleet's (package kube: the format, GatherEvents).
package agent
