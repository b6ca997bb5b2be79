package kubeapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/armorer-dev/armorer/internal/kubetest"
	"github.com/armorer-dev/armorer/kube"
	"github.com/armorer-dev/armorer/kube/agent"
	"github.com/armorer-dev/armorer/kube/apiclient"
	"github.com/armorer-dev/armorer/policy"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// documents decodes a multi-document YAML stream into objects.
func documents(t *testing.T, src []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, doc := range bytes.Split(src, []byte("\n---\n")) {
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatalf("decode %q: %v", doc, err)
		}
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}

func name(obj map[string]any) string {
	md, _ := obj["metadata"].(map[string]any)
	return fmt.Sprintf("%v %v", obj["kind"], md["name"])
}

// createBoth creates obj with a server-side dry-run, then for real.
func createBoth(t *testing.T, s *kubetest.Server, obj map[string]any, ns string) *kubetest.Created {
	t.Helper()
	if _, err := s.Create(ctx(t), obj, ns, true); err != nil {
		t.Fatalf("dry-run create %s: %v", name(obj), err)
	}
	c, err := s.Create(ctx(t), obj, ns, false)
	if err != nil {
		t.Fatalf("create %s: %v", name(obj), err)
	}
	return c
}

func namespace(t *testing.T, s *kubetest.Server, ns string, labels map[string]any) {
	t.Helper()
	createBoth(t, s, map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": ns, "labels": labels}}, "")
	// No controller-manager runs, so no one creates the default
	// ServiceAccount that the ServiceAccount admission plugin wants pods to have.
	createBoth(t, s, map[string]any{"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": "default"}}, ns)
}

func profiles(t *testing.T) []kube.ProfileSource {
	t.Helper()
	p, err := kube.ReadProfiles("../../kube/testdata/profiles", nil, policy.Version{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// serviceMonitorCRD is a minimal CustomResourceDefinition for
// prometheus-operator's ServiceMonitor, as a cluster with the operator has.
var serviceMonitorCRD = map[string]any{
	"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
	"metadata": map[string]any{"name": "servicemonitors.monitoring.coreos.com"},
	"spec": map[string]any{
		"group": "monitoring.coreos.com", "scope": "Namespaced",
		"names": map[string]any{"kind": "ServiceMonitor", "listKind": "ServiceMonitorList", "plural": "servicemonitors", "singular": "servicemonitor"},
		"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
			"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
	},
}

func TestManifestsAccepted(t *testing.T) {
	s := server(t)
	createBoth(t, s, serviceMonitorCRD, "")
	for _, tc := range []kube.ManifestOptions{
		{Namespace: "armorer-defaults"},
		{Namespace: "armorer-full", Attribution: true, NodeLabel: true, ServiceMonitor: true, Port: 9800},
	} {
		t.Run(tc.Namespace, func(t *testing.T) {
			tc.Profiles = profiles(t)
			out, err := kube.MarshalYAML(kube.Objects(tc))
			if err != nil {
				t.Fatal(err)
			}
			objs := documents(t, out)
			for _, obj := range objs {
				if obj["kind"] == "ServiceMonitor" {
					waitForResource(t, s, obj)
				}
				c := createBoth(t, s, obj, "")
				for _, w := range c.Warnings {
					t.Errorf("%s: API warning: %s", name(obj), w)
				}
				if obj["kind"] == "DaemonSet" {
					checkAgentKept(t, c.Object)
					agentPod(t, s, tc.Namespace, obj)
				}
			}
			if tc.NodeLabel {
				nodeLabelAccess(t, s, tc.Namespace)
			}
		})
	}
}

// TestKustomizeBaseAccepted: contrib's kustomize base (the default
// manifests, which the Helm chart renders too) is accepted as it is.
func TestKustomizeBaseAccepted(t *testing.T) {
	s := server(t)
	src, err := os.ReadFile("../../contrib/k8s/kustomize/armorer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range documents(t, src) {
		c := createBoth(t, s, obj, "")
		for _, w := range c.Warnings {
			t.Errorf("%s: API warning: %s", name(obj), w)
		}
	}
}

// waitForResource waits until a new CRD's kind is served.
func waitForResource(t *testing.T, s *kubetest.Server, obj map[string]any) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := s.Create(ctx(t), obj, "", true)
		if err == nil || time.Now().After(deadline) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkAgentKept reads back the stored DaemonSet: the API server kept the
// least-privilege settings as written (nothing dropped as unknown).
func checkAgentKept(t *testing.T, ds map[string]any) {
	t.Helper()
	b, _ := yaml.Marshal(ds)
	for _, want := range []string{
		"type: Unconfined", "- MAC_ADMIN", "- ALL", "privileged: false",
		"priorityClassName: system-node-critical", "kubernetes.io/os: linux", "operator: Exists",
		"path: /readyz", "path: /sys/kernel/security",
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("stored DaemonSet lacks %q:\n%s", want, b)
		}
	}
}

// agentPod admits the agent's pod itself (what the DaemonSet controller
// would create): accepted in the namespace the manifests label
// privileged, refused by Pod Security admission under baseline, which is
// why the Namespace carries the label.
func agentPod(t *testing.T, s *kubetest.Server, ns string, ds map[string]any) {
	t.Helper()
	tmpl := ds["spec"].(map[string]any)["template"].(map[string]any)
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "agent-probe", "labels": tmpl["metadata"].(map[string]any)["labels"]},
		"spec":     tmpl["spec"]}
	if _, err := s.Create(ctx(t), pod, ns, true); err != nil {
		t.Fatalf("the agent's pod in %s (privileged): %v", ns, err)
	}
	baseline := ns + "-baseline"
	namespace(t, s, baseline, map[string]any{"pod-security.kubernetes.io/enforce": "baseline"})
	createBoth(t, s, map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": kube.AgentName}}, baseline)
	_, err := s.Create(ctx(t), pod, baseline, true)
	ae, ok := err.(*kubetest.APIError)
	if !ok || ae.Code != 403 || !strings.Contains(ae.Status.Message, "violates PodSecurity") {
		t.Fatalf("the agent's pod under baseline: got %v, want Pod Security's refusal", err)
	}
	t.Logf("baseline refuses the agent pod: %s", ae.Status.Message)
}

func TestPatchedWorkloadsAccepted(t *testing.T) {
	s := server(t)
	src, err := os.ReadFile("testdata/workloads.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range []kube.PatchOptions{
		{Container: "app", Profile: "myapp"},
		{Container: "app", Profile: "myapp", LegacyAnnotation: true},
		{Profile: "worker", PodLevel: true},
		{Profile: "worker", PodLevel: true, LegacyAnnotation: true},
	} {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			res, err := kube.Patch("workloads.yaml", src, o)
			if err != nil {
				t.Fatal(err)
			}
			// What armorer patched, armorer's own check accepts.
			if f, err := kube.CheckWorkloads("patched.yaml", res.Out, []string{"myapp", "worker"}); err != nil || len(f) > 0 {
				t.Fatalf("check of the patched output: %v %v", f, err)
			}
			ns := fmt.Sprintf("patched-%d", i)
			namespace(t, s, ns, nil)
			objs := documents(t, res.Out)
			if len(objs) != 7 {
				t.Fatalf("%d objects, want 7", len(objs))
			}
			for _, obj := range objs {
				c := createBoth(t, s, obj, ns)
				for _, w := range c.Warnings {
					if !o.LegacyAnnotation || !strings.Contains(w, "deprecated") {
						t.Errorf("%s: unexpected API warning: %s", name(obj), w)
					}
				}
				if obj["kind"] == "Pod" {
					b, _ := yaml.Marshal(c.Object["spec"])
					if !bytes.Contains(b, []byte("localhostProfile: "+o.Profile)) {
						t.Errorf("stored pod lost the profile:\n%s", b)
					}
				}
			}
		})
	}
}

func pod(extraAnnotations map[string]any, appArmor map[string]any) map[string]any {
	c := map[string]any{"name": "app", "image": "registry.example/app:1"}
	if appArmor != nil {
		c["securityContext"] = map[string]any{"appArmorProfile": appArmor}
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"generateName": "neg-", "annotations": extraAnnotations},
		"spec":     map[string]any{"containers": []any{c}}}
}

// TestAPIRefusals: what check calls errors, the API server refuses too,
// with its own message.
func TestAPIRefusals(t *testing.T) {
	s := server(t)
	namespace(t, s, "negative", nil)
	for _, tc := range []struct {
		name    string
		pod     map[string]any
		kind    kube.FindingKind
		field   string // the API's cause
		message string
	}{
		{"localhost without a name", pod(nil, map[string]any{"type": "Localhost"}),
			kube.LocalhostWithoutName, "spec.containers[0].securityContext.appArmorProfile.localhostProfile", "must be set when AppArmor type is Localhost"},
		{"field and annotation disagree",
			pod(map[string]any{kube.LegacyAnnotationPrefix + "app": "localhost/other"}, map[string]any{"type": "Localhost", "localhostProfile": "myapp"}),
			kube.Mismatch, "spec.containers[0].securityContext.appArmorProfile.localhostProfile", "apparmor profile in annotation and field must match"},
		{"field and annotation types disagree",
			pod(map[string]any{kube.LegacyAnnotationPrefix + "app": "unconfined"}, map[string]any{"type": "Localhost", "localhostProfile": "myapp"}),
			kube.Mismatch, "spec.containers[0].securityContext.appArmorProfile.type", "apparmor type in annotation and field must match"},
		{"annotation that is no profile reference", pod(map[string]any{kube.LegacyAnnotationPrefix + "app": "myapp"}, nil),
			kube.BadAnnotation, "metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]", "invalid AppArmor profile name"},
		{"annotation for no container", pod(map[string]any{kube.LegacyAnnotationPrefix + "ghost": "localhost/myapp"}, nil),
			kube.UnknownContainer, "metadata.annotations[container.apparmor.security.beta.kubernetes.io/ghost]", "container not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := yaml.Marshal(tc.pod)
			findings, err := kube.CheckWorkloads("pod.yaml", src, []string{"myapp", "other"})
			if err != nil || len(findings) != 1 || findings[0].Kind != tc.kind {
				t.Errorf("armorer check: %v %v, want one %s", findings, err, tc.kind)
			}
			for _, dry := range []bool{true, false} {
				_, err := s.Create(ctx(t), tc.pod, "negative", dry)
				ae, ok := kubetest.IsInvalid(err)
				if !ok {
					t.Fatalf("dryRun=%v: got %v, want Invalid", dry, err)
				}
				t.Logf("API: %s", ae.Status.Message)
				found := false
				for _, c := range ae.Status.Details.Causes {
					if c.Field == tc.field && strings.Contains(c.Message, tc.message) {
						found = true
					}
				}
				if !found {
					t.Errorf("dryRun=%v: causes %+v, want field %s with %q", dry, ae.Status.Details.Causes, tc.field, tc.message)
				}
			}
		})
	}
}

// TestAnnotationOnlyPod records what the API server does with a pod that
// sets its profile only through the deprecated annotation, and with a
// workload template that does: check reports both as annotation-only.
func TestAnnotationOnlyPod(t *testing.T) {
	s := server(t)
	namespace(t, s, "annotation-only", nil)
	p := pod(map[string]any{kube.LegacyAnnotationPrefix + "app": "localhost/myapp"}, nil)
	c, err := s.Create(ctx(t), p, "annotation-only", false)
	if err != nil {
		t.Fatalf("annotation-only pod: %v", err)
	}
	t.Logf("pod warnings: %q", c.Warnings)
	spec, _ := yaml.Marshal(c.Object["spec"])
	meta, _ := yaml.Marshal(c.Object["metadata"].(map[string]any)["annotations"])
	t.Logf("stored pod spec:\n%s\nannotations:\n%s", spec, meta)
	// Kubernetes >= 1.30 copies the annotation into the field when a pod
	// is created (and warns that the annotation is deprecated).
	if !bytes.Contains(spec, []byte("localhostProfile: myapp")) || !bytes.Contains(spec, []byte("type: Localhost")) {
		t.Errorf("v1.37 did not copy the annotation into securityContext.appArmorProfile:\n%s", spec)
	}
	if !bytes.Contains(meta, []byte("localhost/myapp")) {
		t.Errorf("the annotation is gone:\n%s", meta)
	}
	if !hasWarning(c.Warnings, "deprecated") {
		t.Errorf("no deprecation warning: %q", c.Warnings)
	}

	deploy := map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "annotated"},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "a"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "a"}, "annotations": p["metadata"].(map[string]any)["annotations"]},
				"spec":     p["spec"],
			}}}
	c, err = s.Create(ctx(t), deploy, "annotation-only", false)
	if err != nil {
		t.Fatalf("annotation-only Deployment: %v", err)
	}
	tmpl, _ := yaml.Marshal(c.Object["spec"].(map[string]any)["template"])
	t.Logf("Deployment warnings: %q\nstored template:\n%s", c.Warnings, tmpl)
	// A template is stored as written: only a warning says the
	// annotation is deprecated (the pods get the field when created).
	if bytes.Contains(tmpl, []byte("appArmorProfile")) {
		t.Errorf("v1.37 copied the annotation into the template's field:\n%s", tmpl)
	}
	if !hasWarning(c.Warnings, "deprecated") {
		t.Errorf("no deprecation warning for the template: %q", c.Warnings)
	}
	src, _ := yaml.Marshal(deploy)
	f, _ := kube.CheckWorkloads("deploy.yaml", src, []string{"myapp"})
	if len(f) != 1 || f[0].Kind != kube.AnnotationOnly {
		t.Errorf("armorer check: %v, want annotation-only", f)
	}
}

func hasWarning(ws []string, sub string) bool {
	for _, w := range ws {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

// nodeLabelAccess: the ClusterRole and binding of --node-label, with the
// own-node admission policy, let the agent do what agent.NodeLabeler does
// (set and remove its label on its Node, with its pod's token) and nothing
// near it (get, list, watch, create or delete nodes, read secrets); a
// ServiceAccount without the binding cannot label.
func nodeLabelAccess(t *testing.T, s *kubetest.Server, ns string) {
	t.Helper()
	node := "node-" + ns
	c := withToken(s, agentOnNode(t, s, ns, node))
	label := func() (string, bool) {
		obj, err := s.Get(ctx(t), "/api/v1/nodes/"+node)
		if err != nil {
			t.Fatal(err)
		}
		md, _ := obj["metadata"].(map[string]any)
		l, _ := md["labels"].(map[string]any)
		v, ok := l[agent.NodeLabelKey].(string)
		return v, ok
	}
	l := &agent.NodeLabeler{Client: c, Node: node}
	hash := strings.Repeat("ab", 32)
	untilAdmitted(t, "the agent labels its node", func() error { return l.Update(ctx(t), agent.Status{Ready: true, LoadedSetHash: hash}) })
	if v, ok := label(); !ok || v != l.Value(agent.Status{Ready: true, LoadedSetHash: hash}) {
		t.Errorf("node label %q (set %v), want the loaded set's hash", v, ok)
	}
	// Another node: RBAC allows the patch, the own-node policy refuses it.
	agentOnNode(t, s, ns, "other-"+node)
	err := (&agent.NodeLabeler{Client: c, Node: "other-" + node}).Update(ctx(t), agent.Status{Ready: true, LoadedSetHash: hash})
	if !isPolicyDenial(err) {
		t.Errorf("the agent labelled another node: %v, want the own-node policy's refusal", err)
	}
	t.Logf("labelling another node: %v", err)
	if err := l.Update(ctx(t), agent.Status{Ready: false}); err != nil {
		t.Fatalf("the agent's ServiceAccount cannot remove its label: %v", err)
	}
	if v, ok := label(); ok {
		t.Errorf("node label %q stays after the agent stopped being ready", v)
	}
	other := &corev1.Node{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"}, ObjectMeta: metav1.ObjectMeta{Name: "new-" + ns}}
	for what, err := range map[string]error{
		"get node":     c.Do(ctx(t), http.MethodGet, "/api/v1/nodes/"+node, nil, nil, "", nil),
		"list nodes":   c.Do(ctx(t), http.MethodGet, "/api/v1/nodes", nil, nil, "", nil),
		"watch nodes":  c.Do(ctx(t), http.MethodGet, "/api/v1/nodes", url.Values{"watch": {"1"}, "timeoutSeconds": {"1"}}, nil, "", nil),
		"delete node":  c.Do(ctx(t), http.MethodDelete, "/api/v1/nodes/"+node, dryRun(), nil, "", nil),
		"create node":  c.Do(ctx(t), http.MethodPost, "/api/v1/nodes", dryRun(), other, "", nil),
		"list secrets": c.Do(ctx(t), http.MethodGet, "/api/v1/namespaces/"+ns+"/secrets", nil, nil, "", nil),
	} {
		if !apiclient.IsForbidden(err) {
			t.Errorf("%s as the agent: %v, want Forbidden", what, err)
		}
	}
	// Another ServiceAccount, bound to nothing, cannot label.
	createBoth(t, s, map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "unbound"}}, ns)
	var tr authenticationv1.TokenRequest
	in := authenticationv1.TokenRequest{TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenRequest"}}
	must(t, admin(s).Do(ctx(t), http.MethodPost, "/api/v1/namespaces/"+ns+"/serviceaccounts/unbound/token", nil, in, "", &tr))
	unbound := &agent.NodeLabeler{Client: withToken(s, tr.Status.Token), Node: node}
	if err := unbound.Update(ctx(t), agent.Status{Ready: true, LoadedSetHash: hash}); !apiclient.IsForbidden(err) {
		t.Errorf("a ServiceAccount without the binding labelled the node: %v, want Forbidden", err)
	}
}
