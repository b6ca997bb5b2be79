package kubeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/internal/kubetest"
	"github.com/armorer-dev/armorer/kube"
	"github.com/armorer-dev/armorer/kube/agent"
	"github.com/armorer-dev/armorer/kube/apiclient"
)

// admin is an API client as system:masters.
func admin(s *kubetest.Server) *apiclient.Client {
	return &apiclient.Client{Server: s.URL, HTTP: s.Client, Token: func() (string, error) { return s.Token, nil }}
}

// withToken is an API client that authenticates with token, as the
// agent does with its pod's.
func withToken(s *kubetest.Server, token string) *apiclient.Client {
	return &apiclient.Client{Server: s.URL, HTTP: s.Client, Token: func() (string, error) { return token, nil },
		UserAgent: "armorer-k8s-agent", FieldManager: "armorer-k8s-agent"}
}

// agentOnNode does what the scheduler and the kubelet do for the agent's
// pod on node: the Node, a Pod of the agent's ServiceAccount bound to it,
// and the token the kubelet projects into that pod (a TokenRequest bound
// to the Pod, which names the node). It returns the token.
func agentOnNode(t *testing.T, s *kubetest.Server, ns, node string) string {
	t.Helper()
	c := admin(s)
	if _, err := s.Create(ctx(t), map[string]any{"apiVersion": "v1", "kind": "Node", "metadata": map[string]any{"name": node}}, "", false); err != nil {
		if ae, ok := err.(*kubetest.APIError); !ok || ae.Status.Reason != metav1.StatusReasonAlreadyExists {
			t.Fatal(err)
		}
	}
	created, err := s.Create(ctx(t), map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "agent-" + node},
		"spec": map[string]any{"nodeName": node, "serviceAccountName": kube.AgentName, "automountServiceAccountToken": false,
			"containers": []any{map[string]any{"name": "agent", "image": "armorer"}}}}, ns, false)
	if err != nil {
		t.Fatal(err)
	}
	md := created.Object["metadata"].(map[string]any)
	return tokenFor(t, c, ns, &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: md["name"].(string), UID: types.UID(fmt.Sprint(md["uid"]))})
}

// tokenFor requests a token of the agent's ServiceAccount, bound to
// bound (nil: a token bound to nothing, which names no node).
func tokenFor(t *testing.T, c *apiclient.Client, ns string, bound *authenticationv1.BoundObjectReference) string {
	t.Helper()
	tr := authenticationv1.TokenRequest{
		TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenRequest"},
		Spec:     authenticationv1.TokenRequestSpec{BoundObjectRef: bound},
	}
	var out authenticationv1.TokenRequest
	if err := c.Do(ctx(t), http.MethodPost, "/api/v1/namespaces/"+ns+"/serviceaccounts/"+kube.AgentName+"/token", nil, tr, "", &out); err != nil {
		t.Fatalf("token request: %v", err)
	}
	return out.Status.Token
}

// whoami is the API server's view of c's user (a SelfSubjectReview).
func whoami(t *testing.T, c *apiclient.Client) authenticationv1.UserInfo {
	t.Helper()
	var out authenticationv1.SelfSubjectReview
	in := authenticationv1.SelfSubjectReview{TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "SelfSubjectReview"}}
	if err := c.Do(ctx(t), http.MethodPost, "/apis/authentication.k8s.io/v1/selfsubjectreviews", nil, in, "", &out); err != nil {
		t.Fatal(err)
	}
	return out.Status.UserInfo
}

// eventLine is a complain-mode access of profile to path, as the kernel
// logs it through auditd.
func eventLine(profile, path string, serial int) string {
	return fmt.Sprintf(`type=AVC msg=audit(1795600186.%03d:%d): apparmor="ALLOWED" operation="open" class="file" profile="%s" name="%s" pid=210 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`, serial%1000, serial, profile, path)
}

func observe(t *testing.T, p *agent.Publisher, profile, path string, times int) {
	t.Helper()
	var ev auditlog.Event
	if err := auditlog.NewParser().Parse([]byte(eventLine(profile, path, 1)), &ev); err != nil {
		t.Fatal(err)
	}
	for range times {
		p.Observe(&ev, time.Now())
	}
}

// untilAdmitted retries fn while the API server still refuses it for
// lack of permission: the RBAC authorizer and the admission policy learn
// of new objects from informers, a moment after they are created.
func untilAdmitted(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if !(apiclient.IsForbidden(err) || isPolicyDenial(err)) || time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// isPolicyDenial tells a ValidatingAdmissionPolicy's refusal.
func isPolicyDenial(err error) bool {
	return err != nil && strings.Contains(err.Error(), "ValidatingAdmissionPolicy")
}

// untilDenied retries fn until the admission policy refuses it (it is
// in effect a moment after it is created), and returns the refusal.
func untilDenied(t *testing.T, what string, fn func() error) error {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := fn()
		if isPolicyDenial(err) {
			return err
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v, want the own-node admission policy's refusal", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func dryRun() url.Values { return url.Values{"dryRun": {"All"}} }

func configMap(ns, name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}
}

// TestPublishEvents: the agents of two nodes publish their complain-mode
// accesses through the manifests' RBAC, each within its own object;
// armorer k8s events and armorer learn k8s:NAME merge them; the bound is
// the API's own 1 MiB; conflicts and restarts keep the counts; and the
// agent's ServiceAccount can write only what it must.
func TestPublishEvents(t *testing.T) {
	s := server(t)
	const ns = "armorer-pub"
	objs, err := kube.MarshalYAML(kube.Objects(kube.ManifestOptions{Namespace: ns, Attribution: true, PublishEvents: true, Profiles: profiles(t)}))
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range documents(t, objs) {
		for _, w := range createBoth(t, s, obj, "").Warnings {
			t.Errorf("%s: API warning: %s", name(obj), w)
		}
	}
	ca := withToken(s, agentOnNode(t, s, ns, "node-a"))
	cb := withToken(s, agentOnNode(t, s, ns, "node-b"))
	if u := whoami(t, ca); u.Username != "system:serviceaccount:"+ns+":"+kube.AgentName || fmt.Sprint(u.Extra[kube.NodeNameExtra]) != "[node-a]" {
		t.Fatalf("the pod-bound token is %s with extra %v, want the agent on node-a", u.Username, u.Extra)
	}

	pa := &agent.Publisher{Client: ca, Namespace: ns, Node: "node-a"}
	pb := &agent.Publisher{Client: cb, Namespace: ns, Node: "node-b"}
	observe(t, pa, "web", "/etc/web/a.conf", 3)
	observe(t, pa, "web", "/etc/web/shared.conf", 1)
	observe(t, pb, "web", "/etc/web/b.conf", 1)
	observe(t, pb, "web", "/etc/web/shared.conf", 2)
	observe(t, pb, "web//null-/usr/bin/helper", "/etc/web/child.conf", 1)
	observe(t, pb, "api", "/etc/api.conf", 1)
	untilAdmitted(t, "publish as node-a's agent", func() error { return pa.Publish(ctx(t)) })
	untilAdmitted(t, "publish as node-b's agent", func() error { return pb.Publish(ctx(t)) })

	t.Run("merge", func(t *testing.T) {
		f, err := kube.GatherEvents(ctx(t), admin(s), ns, "web")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, a := range f.Accesses {
			var ev map[string]any
			json.Unmarshal(a.Event, &ev)
			got[fmt.Sprint(ev["profile"], " ", ev["name"])] = a.Count
		}
		want := map[string]int64{"web /etc/web/a.conf": 3, "web /etc/web/shared.conf": 3, "web /etc/web/b.conf": 1, "web//null-/usr/bin/helper /etc/web/child.conf": 1}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("merged accesses %v, want %v", got, want)
		}
		if len(f.Nodes) != 2 || f.Nodes[0].Node != "node-a" || f.Nodes[0].Accesses != 2 || f.Nodes[1].Accesses != 3 {
			t.Errorf("nodes %+v", f.Nodes)
		}
	})

	t.Run("cli", func(t *testing.T) {
		env := kubeconfig(t, s)
		out, errOut := armorer(t, env, 0, "k8s", "events", "--profile", "web", "-n", ns, "--json")
		var names []string
		for line := range strings.Lines(out) {
			var ev map[string]any
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("%v: %q", err, line)
			}
			if ev["source"] != "k8s:"+ns+"/web" || ev["apparmor"] != "ALLOWED" {
				t.Errorf("event %v", ev)
			}
			names = append(names, fmt.Sprint(ev["name"]))
		}
		if len(names) != 4 || !strings.Contains(errOut, "4 distinct accesses from 2 nodes") {
			t.Errorf("armorer k8s events: %v\nstderr: %s", names, errOut)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "web"), []byte("profile web /usr/bin/web flags=(complain) {\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, _ = armorer(t, append(env, "ARMORER_STATE_DIR="+t.TempDir()), 0, "learn", "k8s:"+ns+"/web", "--dir", dir, "--stdout")
		for _, rule := range []string{"/etc/web/a.conf r,", "/etc/web/b.conf r,", "/etc/web/shared.conf r,"} {
			if !strings.Contains(out, rule) {
				t.Errorf("armorer learn k8s:%s/web proposes no %q:\n%s", ns, rule, out)
			}
		}
		_, errOut = armorer(t, env, 3, "k8s", "events", "--profile", "nosuch", "-n", ns)
		if !strings.Contains(errOut, "no node published events for nosuch") {
			t.Errorf("a profile nobody published: %s", errOut)
		}
	})

	t.Run("rbac", func(t *testing.T) {
		// Each agent writes its own object, and only it: not another
		// node's, not the profiles every node loads.
		err := untilDenied(t, "node-a's agent creates node-b's object", func() error {
			return ca.Do(ctx(t), http.MethodPost, "/api/v1/namespaces/"+ns+"/configmaps", dryRun(), configMap(ns, kube.EventsConfigMapName("node-b"), nil), "", nil)
		})
		t.Logf("node-a's agent writing node-b's events: %v", err)
		profilesCM, err := admin(s).GetConfigMap(ctx(t), ns, kube.ProfilesName)
		if err != nil {
			t.Fatal(err)
		}
		profilesCM.Data["evil"] = "profile evil { }"
		if err := ca.Do(ctx(t), http.MethodPut, "/api/v1/namespaces/"+ns+"/configmaps/"+kube.ProfilesName, dryRun(), profilesCM, "", nil); !isPolicyDenial(err) {
			t.Errorf("node-a's agent updating the profiles ConfigMap: %v, want the policy's refusal", err)
		}
		if err := ca.Do(ctx(t), http.MethodPost, "/api/v1/namespaces/"+ns+"/configmaps", dryRun(), configMap(ns, "armorer-events-node-a-x", nil), "", nil); !isPolicyDenial(err) {
			t.Errorf("node-a's agent creating another ConfigMap: %v, want the policy's refusal", err)
		}
		// What RBAC never grants.
		for what, req := range map[string][2]string{
			"list configmaps":      {http.MethodGet, "/api/v1/namespaces/" + ns + "/configmaps"},
			"watch configmaps":     {http.MethodGet, "/api/v1/namespaces/" + ns + "/configmaps?watch=1"},
			"delete its object":    {http.MethodDelete, "/api/v1/namespaces/" + ns + "/configmaps/" + kube.EventsConfigMapName("node-a") + "?dryRun=All"},
			"read secrets":         {http.MethodGet, "/api/v1/namespaces/" + ns + "/secrets"},
			"configmaps elsewhere": {http.MethodGet, "/api/v1/namespaces/default/configmaps/kube-root-ca.crt"},
			"get nodes":            {http.MethodGet, "/api/v1/nodes/node-a"},
		} {
			path, query, _ := strings.Cut(req[1], "?")
			q, _ := url.ParseQuery(query)
			if err := ca.Do(ctx(t), req[0], path, q, nil, "", nil); !apiclient.IsForbidden(err) {
				t.Errorf("%s as the agent: %v, want Forbidden", what, err)
			}
		}
		// A token that names no node (not the pod's) writes nothing.
		unbound := withToken(s, tokenFor(t, admin(s), ns, nil))
		if err := (&agent.Publisher{Client: unbound, Namespace: ns, Node: "node-a"}).Publish(ctx(t)); err != nil {
			t.Fatalf("an unchanged publication should write nothing: %v", err)
		}
		p := &agent.Publisher{Client: unbound, Namespace: ns, Node: "node-a"}
		observe(t, p, "web", "/etc/forged", 1)
		if err := p.Publish(ctx(t)); !isPolicyDenial(err) || !strings.Contains(err.Error(), "pod's token") {
			t.Errorf("publishing with a token bound to no pod: %v, want the policy's refusal", err)
		}
	})

	t.Run("conflict-and-restart", func(t *testing.T) {
		// Someone edits node-a's object: the agent's next write conflicts,
		// reads the object again and writes its own state.
		c := admin(s)
		cm, err := c.GetConfigMap(ctx(t), ns, kube.EventsConfigMapName("node-a"))
		if err != nil {
			t.Fatal(err)
		}
		cm.Annotations["edited-by"] = "someone"
		if _, err := c.UpdateConfigMap(ctx(t), cm); err != nil {
			t.Fatal(err)
		}
		observe(t, pa, "web", "/etc/web/a.conf", 1)
		if err := pa.Publish(ctx(t)); err != nil {
			t.Fatalf("publish after a conflicting edit: %v", err)
		}
		if pa.Writes("conflict") != 1 || pa.Writes("ok") != 2 {
			t.Errorf("writes: %v conflicts, %v ok; want 1 and 2", pa.Writes("conflict"), pa.Writes("ok"))
		}
		if cm, _ := c.GetConfigMap(ctx(t), ns, kube.EventsConfigMapName("node-a")); cm.Annotations["edited-by"] != "" {
			t.Errorf("the agent kept someone's edit of its object: %v", cm.Annotations)
		}
		// A restarted agent continues from what it published.
		restarted := &agent.Publisher{Client: ca, Namespace: ns, Node: "node-a"}
		observe(t, restarted, "web", "/etc/web/a.conf", 1)
		must(t, restarted.Publish(ctx(t)))
		f, err := kube.GatherEvents(ctx(t), c, ns, "web")
		must(t, err)
		for _, a := range f.Accesses {
			if bytes.Contains(a.Event, []byte(`"/etc/web/a.conf"`)) && a.Count != 5 {
				t.Errorf("a.conf counted %d times, want 3+1+1", a.Count)
			}
		}
	})

	t.Run("bound", func(t *testing.T) {
		// The bound is the API server's own: values of 1 MiB in all are
		// accepted, one byte more is refused (keys are not counted; the
		// publisher counts them too, to be safe).
		c := admin(s)
		fit := configMap(ns, "size-probe", map[string]string{"k": strings.Repeat("x", kube.MaxEventsBytes/2), "l": strings.Repeat("x", kube.MaxEventsBytes/2)})
		if err := c.Do(ctx(t), http.MethodPost, "/api/v1/namespaces/"+ns+"/configmaps", dryRun(), fit, "", nil); err != nil {
			t.Fatalf("a ConfigMap of exactly 1 MiB: %v", err)
		}
		fit.Data["l"] += "x"
		err := c.Do(ctx(t), http.MethodPost, "/api/v1/namespaces/"+ns+"/configmaps", dryRun(), fit, "", nil)
		if !strings.Contains(fmt.Sprint(err), "Too long") {
			t.Fatalf("a ConfigMap of 1 MiB + 1 byte: %v, want Too long", err)
		}
		t.Logf("1 MiB + 1: %v", err)

		pc := &agent.Publisher{Client: withToken(s, agentOnNode(t, s, ns, "node-c")), Namespace: ns, Node: "node-c"}
		observe(t, pc, "web", "/etc/web/frequent.conf", 50)
		long := strings.Repeat("d", 200)
		for i := range 6000 {
			observe(t, pc, "web", fmt.Sprintf("/var/lib/web/%s/%05d", long, i), 1)
		}
		untilAdmitted(t, "publish as node-c's agent", func() error { return pc.Publish(ctx(t)) })
		cm, err := c.GetConfigMap(ctx(t), ns, kube.EventsConfigMapName("node-c"))
		must(t, err)
		size := 0
		for k, v := range cm.Data {
			size += len(k) + len(v)
		}
		dropped := kube.DroppedCounts(cm)["web"]
		t.Logf("node-c: %d bytes published, %d accesses dropped", size, dropped)
		if size > kube.MaxEventsBytes || size != pc.Size() || size < kube.MaxEventsBytes*7/8 {
			t.Errorf("published %d bytes (the publisher counts %d), want at most %d and close to it", size, pc.Size(), kube.MaxEventsBytes)
		}
		if dropped == 0 || dropped != pc.Dropped()["web"] {
			t.Errorf("dropped %d (annotation) and %d (publisher)", dropped, pc.Dropped()["web"])
		}
		if !strings.Contains(cm.Data["web"], "/etc/web/frequent.conf") || !strings.Contains(cm.Data["web"], "/05999") || strings.Contains(cm.Data["web"], "/00000\"") {
			t.Errorf("the frequent access or the newest went, or the oldest of the rare ones stayed")
		}
	})
}

// kubeconfig writes a kubeconfig for the test's API server (its CA, the
// admin token) and returns the environment that points armorer to it.
func kubeconfig(t *testing.T, s *kubetest.Server) []string {
	t.Helper()
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: test
  user:
    token: %s
contexts:
- name: test
  context: {cluster: test, user: test}
current-context: test
`, s.URL, filepath.Join(s.Dir, "ca.crt"), s.Token)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"KUBECONFIG=" + path, "HOME=" + t.TempDir()}
}

// armorer runs armorer (this test binary, see TestMain) with args and
// env, checks its exit status and returns its output.
func armorer(t *testing.T, env []string, status int, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.CommandContext(ctx(t), os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), envRunArmorer+"=1"), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != status {
		t.Fatalf("armorer %s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, status, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}
