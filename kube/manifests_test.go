package kube

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
		"full":     {Namespace: "kube-armor", Image: "registry.example/armorer:v1", Port: 9800, Attribution: true, NodeLabel: true, ServiceMonitor: true},
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
				if len(c.Env) > 0 && !a.NodeNameEnv {
					t.Errorf("unexpected env %v", c.Env)
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
		Rules:    []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "patch"}}},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: AgentName, Namespace: "sec"}},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: AgentName},
	}
	if d := cmp.Diff(want, get(ManifestOptions{Namespace: "sec", NodeLabel: true})); d != "" {
		t.Errorf("with --node-label (-want +got):\n%s", d)
	}
}
