package kube

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/armorer-dev/armorer/policy"
)

var update = flag.Bool("update", false, "rewrite golden files")

func testProfiles(t *testing.T) []ProfileSource {
	t.Helper()
	p, err := ReadProfiles("testdata/profiles", nil, policy.Version{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s (-want +got, rerun with -update if meant):\n%s", path, d)
	}
}

func TestManifestsGolden(t *testing.T) {
	for name, o := range map[string]ManifestOptions{
		"defaults": {},
		"full":     {Namespace: "kube-armor", Image: "registry.example/armorer:v1", Port: 9800, Attribution: true, NodeLabel: true, PublishEvents: true, ServiceMonitor: true},
	} {
		t.Run(name, func(t *testing.T) {
			o.Profiles = testProfiles(t)
			out, err := MarshalYAML(Objects(o))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "manifests", name+".golden"), out)
			// Every document decodes, and none carries server-filled fields.
			for _, doc := range bytes.Split(out, []byte("\n---\n")) {
				var m map[string]any
				if err := yaml.UnmarshalStrict(doc, &m); err != nil {
					t.Errorf("document does not decode: %v\n%s", err, doc)
				}
				if _, ok := m["status"]; ok || bytes.Contains(doc, []byte("creationTimestamp")) {
					t.Errorf("server-side fields in:\n%s", doc)
				}
			}
		})
	}
}

// TestManifestsPrivileges pins the privilege of each feature: nothing
// beyond MAC_ADMIN and the three host directories unless asked for, and
// API access (a token, get and patch on nodes) only for node labelling.
func TestManifestsPrivileges(t *testing.T) {
	ds := func(o ManifestOptions) (caps []string, hostPID, hostNet bool, paths []string, rbac int) {
		var d *appsv1.DaemonSet
		for _, obj := range Objects(o) {
			if strings.Contains(obj.GetObjectKind().GroupVersionKind().Kind, "Role") {
				rbac++
			}
			if v, ok := obj.(*appsv1.DaemonSet); ok {
				d = v
			}
		}
		spec := d.Spec.Template.Spec
		for _, c := range spec.Containers[0].SecurityContext.Capabilities.Add {
			caps = append(caps, string(c))
		}
		for _, v := range spec.Volumes {
			if v.HostPath != nil {
				paths = append(paths, v.HostPath.Path)
			}
		}
		return caps, spec.HostPID, spec.HostNetwork, paths, rbac
	}
	caps, pid, net, paths, rbac := ds(ManifestOptions{})
	if d := cmp.Diff([]string{"MAC_ADMIN"}, caps); d != "" || pid || net || rbac != 0 {
		t.Errorf("defaults: caps %v hostPID %v hostNetwork %v RBAC objects %d", caps, pid, net, rbac)
	}
	if d := cmp.Diff([]string{"/sys/kernel/security", "/var/lib/armorer", "/etc/apparmor.d"}, paths); d != "" {
		t.Errorf("default host paths (-want +got):\n%s", d)
	}
	caps, pid, net, _, _ = ds(ManifestOptions{Attribution: true})
	if d := cmp.Diff([]string{"MAC_ADMIN", "AUDIT_READ"}, caps); d != "" || !pid || !net {
		t.Errorf("attribution: caps %v hostPID %v hostNetwork %v", caps, pid, net)
	}
	if _, _, _, _, rbac := ds(ManifestOptions{Attribution: true, ServiceMonitor: true}); rbac != 0 {
		t.Errorf("%d RBAC objects: without --node-label the agent needs no API access", rbac)
	}
}

// TestManifestsNodeLabel: --node-label, and only it, gives the agent a
// token, its node's name and get and patch on nodes, bound to its
// ServiceAccount.
func TestManifestsNodeLabel(t *testing.T) {
	type access struct {
		SAToken, PodToken bool
		NodeNameEnv       bool
		Args              []string
		Rules             []rbacv1.PolicyRule
		Subjects          []rbacv1.Subject
		RoleRef           rbacv1.RoleRef
	}
	get := func(o ManifestOptions) access {
		var a access
		for _, obj := range Objects(o) {
			switch v := obj.(type) {
			case *corev1.ServiceAccount:
				a.SAToken = *v.AutomountServiceAccountToken
			case *appsv1.DaemonSet:
				spec := v.Spec.Template.Spec
				a.PodToken = *spec.AutomountServiceAccountToken
				c := spec.Containers[0]
				for _, arg := range c.Args {
					if arg == "--node-label" {
						a.Args = append(a.Args, arg)
					}
				}
				for _, e := range c.Env {
					if e.Name == "NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName" {
						a.NodeNameEnv = true
					}
				}
				for _, e := range c.Env {
					if e.Name != "NODE_NAME" && e.Name != "POD_IP" { // POD_IP: --listen-pod-ip
						t.Errorf("unexpected env %v", e)
					}
				}
			case *rbacv1.ClusterRole:
				a.Rules = v.Rules
			case *rbacv1.ClusterRoleBinding:
				a.Subjects, a.RoleRef = v.Subjects, v.RoleRef
			}
		}
		return a
	}
	if d := cmp.Diff(access{}, get(ManifestOptions{Attribution: true, ServiceMonitor: true})); d != "" {
		t.Errorf("without --node-label (-want +got):\n%s", d)
	}
	want := access{
		SAToken: true, PodToken: true, NodeNameEnv: true, Args: []string{"--node-label"},
		Rules:    []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"patch"}}},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: AgentName, Namespace: "sec"}},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: AgentName},
	}
	if d := cmp.Diff(want, get(ManifestOptions{Namespace: "sec", NodeLabel: true})); d != "" {
		t.Errorf("with --node-label (-want +got):\n%s", d)
	}
}

// TestManifestsPublishEvents: --publish-events, and only it, gives the
// agent a token, its node's name, a Role on ConfigMaps in its own
// namespace (get, create, update: no list, watch, patch or delete), and
// the admission policy that holds it to its own node's objects.
func TestManifestsPublishEvents(t *testing.T) {
	type access struct {
		PodToken    bool
		NodeNameEnv bool
		Args        []string
		Roles       map[string][]rbacv1.PolicyRule // kind/namespace/name → rules
		Bindings    map[string]rbacv1.RoleRef
		Policy      []string // the resources the own-node policy matches
		PolicyBound bool
	}
	get := func(o ManifestOptions) access {
		a := access{Roles: map[string][]rbacv1.PolicyRule{}, Bindings: map[string]rbacv1.RoleRef{}}
		for _, obj := range Objects(o) {
			switch v := obj.(type) {
			case *appsv1.DaemonSet:
				spec := v.Spec.Template.Spec
				a.PodToken = *spec.AutomountServiceAccountToken
				for _, arg := range spec.Containers[0].Args {
					if strings.HasPrefix(arg, "--publish-events") || strings.HasPrefix(arg, "--events-namespace") || arg == "--node-label" {
						a.Args = append(a.Args, arg)
					}
				}
				a.NodeNameEnv = len(spec.Containers[0].Env) > 0 && spec.Containers[0].Env[0].Name == "NODE_NAME"
			case *rbacv1.Role:
				a.Roles["Role/"+v.Namespace+"/"+v.Name] = v.Rules
			case *rbacv1.ClusterRole:
				a.Roles["ClusterRole/"+v.Name] = v.Rules
			case *rbacv1.RoleBinding:
				a.Bindings["RoleBinding/"+v.Namespace+"/"+v.Name] = v.RoleRef
			case *rbacv1.ClusterRoleBinding:
				a.Bindings["ClusterRoleBinding/"+v.Name] = v.RoleRef
			case *admissionv1.ValidatingAdmissionPolicy:
				a.Policy = v.Spec.MatchConstraints.ResourceRules[0].Resources
			case *admissionv1.ValidatingAdmissionPolicyBinding:
				a.PolicyBound = v.Spec.PolicyName == AgentName+"-own-node-"+o.Namespace && v.Name == v.Spec.PolicyName
			}
		}
		return a
	}
	cmRule := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "create", "update"}}}
	want := access{
		PodToken: true, NodeNameEnv: true, Args: []string{"--publish-events", "--events-namespace=sec"},
		Roles:    map[string][]rbacv1.PolicyRule{"Role/sec/armorer-agent-events": cmRule},
		Bindings: map[string]rbacv1.RoleRef{"RoleBinding/sec/armorer-agent-events": {APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "armorer-agent-events"}},
		Policy:   []string{"configmaps"}, PolicyBound: true,
	}
	if d := cmp.Diff(want, get(ManifestOptions{Namespace: "sec", Attribution: true, PublishEvents: true})); d != "" {
		t.Errorf("with --publish-events (-want +got):\n%s", d)
	}
	both := get(ManifestOptions{Namespace: "sec", Attribution: true, PublishEvents: true, NodeLabel: true})
	if d := cmp.Diff([]string{"configmaps", "nodes"}, both.Policy); d != "" || len(both.Roles) != 2 || len(both.Bindings) != 2 {
		t.Errorf("with both: policy (-want +got):\n%s roles %v bindings %v", d, both.Roles, both.Bindings)
	}
	if d := cmp.Diff(access{Roles: map[string][]rbacv1.PolicyRule{}, Bindings: map[string]rbacv1.RoleRef{}}, get(ManifestOptions{Attribution: true})); d != "" {
		t.Errorf("without it (-want +got):\n%s", d)
	}
}

// With --attribution the pod shares the node's network, and the agent's
// unauthenticated /status and /denials would be served on every address of
// the node: the agent listens on the pod's IP (the node's internal one,
// from the downward API), which kubelet's probes and Prometheus use.
func TestAttributionListensOnPodIP(t *testing.T) {
	for _, attr := range []bool{false, true} {
		o := ManifestOptions{Attribution: attr}
		o.defaults()
		args := strings.Join(o.agentArgs(), " ")
		podIP := false
		for _, e := range o.env() {
			podIP = podIP || e.Name == "POD_IP" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP"
		}
		if got := strings.Contains(args, "--listen-pod-ip"); got != attr || podIP != attr {
			t.Errorf("attribution %v: args %q, POD_IP env %v", attr, args, podIP)
		}
	}
}
