package agent

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestReconcile walks one node through the agent's life: each step
// fixes one flaw of the naive `cp && apparmor_parser -r` loader.
func TestReconcile(t *testing.T) {
	n := newNode(t)
	a := New(n.config())
	v1 := profile("web", "", "  /srv/web/** r,\n")
	files := map[string]string{"web": v1, "worker": profile("worker", "complain", "")}
	atomicWrite(t, n.cm, files)

	// Add: both loaded, in their modes, from the state directory.
	st := reconcile(t, a)
	p := byName(st)
	if !st.Ready || p["web"].State != StateLoaded || p["worker"].State != StateLoaded {
		t.Fatalf("after add: %+v", st)
	}
	if k := n.loaded(); k["web"] != "enforce" || k["worker"] != "complain" {
		t.Fatalf("kernel after add: %v", k)
	}
	if p["web"].LoadedHash != Hash([]byte(v1)) || p["web"].DesiredHash != p["web"].LoadedHash || !p["web"].Current() {
		t.Errorf("web: %+v", p["web"])
	}
	for _, name := range []string{"web", "worker"} {
		if _, err := os.Stat(filepath.Join(n.state, "profiles", name)); err != nil {
			t.Errorf("accepted file: %v", err)
		}
		if _, err := os.Stat(filepath.Join(n.includes, name)); err == nil {
			t.Errorf("%s written into the host's profile directory", name)
		}
	}
	// Unchanged: no parser call at all on the next pass.
	n.parserCalls()
	reconcile(t, a)
	if calls := n.parserCalls(); len(calls) != 0 {
		t.Errorf("an unchanged set ran apparmor_parser: %q", calls)
	}

	// Update: the new version replaces the old.
	v2 := profile("web", "", "  /srv/web/** r,\n  /var/cache/web/** rw,\n")
	files["web"] = v2
	atomicWrite(t, n.cm, files)
	st = reconcile(t, a)
	if p := byName(st)["web"]; !p.Current() || p.LoadedHash != Hash([]byte(v2)) {
		t.Errorf("after update: %+v", p)
	}

	// Invalid update: reported, skipped; the old version stays loaded,
	// the other profile is untouched; not retried while unchanged.
	files["web"] = profile("web", "", "  /srv/web/** rx-bogus,\n")
	files["api"] = profile("api", "", "")
	atomicWrite(t, n.cm, files)
	st = reconcile(t, a)
	p = byName(st)
	if w := p["web"]; w.State != StateInvalid || !w.Loaded || w.LoadedHash != Hash([]byte(v2)) || w.Current() || !strings.Contains(w.Error, "web:") {
		t.Errorf("invalid update: %+v", w)
	}
	if p["api"].State != StateLoaded || !st.Ready {
		t.Errorf("a valid profile next to an invalid one: %+v (ready %v)", p["api"], st.Ready)
	}
	if got := n.loaded()["web"]; got != "enforce" {
		t.Errorf("web after invalid update: %q", got)
	}
	n.parserCalls()
	reconcile(t, a)
	if calls := n.parserCalls(); len(calls) != 0 {
		t.Errorf("an invalid version was validated again: %q", calls)
	}
	files["web"] = v2
	delete(files, "api")

	// Names the agent must not take: a runtime's, the distribution's,
	// one loaded by someone else, a key that is not the profile's name.
	n.preload("theirs", "enforce")
	files["runc"] = profile("runc", "", "")
	files["distrod"] = profile("distrod", "", "")
	files["theirs"] = profile("theirs", "", "")
	files["renamed"] = profile("web", "", "")
	atomicWrite(t, n.cm, files)
	st = reconcile(t, a)
	p = byName(st)
	for _, name := range []string{"runc", "distrod", "theirs"} {
		if p[name].State != StateRefused || p[name].Loaded {
			t.Errorf("%s: %+v", name, p[name])
		}
	}
	if p["renamed"].State != StateInvalid || !strings.Contains(p["renamed"].Error, "must be the profile's name") {
		t.Errorf("renamed: %+v", p["renamed"])
	}
	if st.Ready || !strings.Contains(st.NotReady, "runc (refused)") {
		t.Errorf("ready with refused profiles: %+v", st)
	}
	if k := n.loaded(); k["runc"] != "" || k["distrod"] != "" || k["api"] != "" {
		t.Errorf("kernel: %v (api should be unloaded: it left the ConfigMap unused)", k)
	}
	for _, name := range []string{"runc", "distrod", "theirs", "renamed"} {
		delete(files, name)
	}

	// Removal while in use: stays loaded, reported; once unused, unloaded.
	n.confine(4242, "worker (complain)")
	delete(files, "worker")
	atomicWrite(t, n.cm, files)
	st = reconcile(t, a)
	if w := byName(st)["worker"]; w.State != StateInUse || w.Confining != 1 || !w.Loaded || w.Desired {
		t.Errorf("removed in use: %+v", w)
	}
	if !st.Ready {
		t.Errorf("a removed profile in use must not block readiness: %+v", st)
	}
	n.exit(4242)
	st = reconcile(t, a)
	if _, ok := byName(st)["worker"]; ok || n.loaded()["worker"] != "" {
		t.Errorf("unused removed profile not unloaded: %+v, kernel %v", st, n.loaded())
	}
	if _, err := os.Stat(filepath.Join(n.state, "profiles", "worker")); err == nil {
		t.Errorf("the accepted file of an unloaded profile stays")
	}

	// Mode switch: the same name reloaded in complain mode, and back.
	files["web"] = profile("web", "complain", "  /srv/web/** r,\n")
	atomicWrite(t, n.cm, files)
	st = reconcile(t, a)
	if w := byName(st)["web"]; w.Mode != "complain" || w.DesiredMode != "complain" || n.loaded()["web"] != "complain" {
		t.Errorf("complain switch: %+v", w)
	}
	files["web"] = v2
	atomicWrite(t, n.cm, files)
	if w := byName(reconcile(t, a))["web"]; w.Mode != "enforce" {
		t.Errorf("enforce switch: %+v", w)
	}

	// Restart: a new agent with the same state loads nothing again.
	n.parserCalls()
	b := New(n.config())
	if st := reconcile(t, b); !st.Ready {
		t.Errorf("restart: not ready: %+v", st)
	}
	for _, c := range n.parserCalls() {
		if !strings.HasSuffix(c, " --version") {
			t.Errorf("restart with an unchanged set ran apparmor_parser %s", c)
		}
	}
	// Reboot: the kernel lost everything; the agent loads it back.
	must(t, os.WriteFile(filepath.Join(n.aafs, "profiles"), nil, 0o644))
	c := New(n.config())
	if st := reconcile(t, c); !st.Ready || n.loaded()["web"] != "enforce" {
		t.Errorf("after a reboot: %+v, kernel %v", st, n.loaded())
	}
}

// TestRebootKeepsLastAccepted: the kernel forgot everything and the
// ConfigMap's version is invalid; the agent loads the version it last
// accepted, so pods referencing the name still start.
func TestRebootKeepsLastAccepted(t *testing.T) {
	n := newNode(t)
	good := profile("web", "", "")
	atomicWrite(t, n.cm, map[string]string{"web": good})
	reconcile(t, New(n.config()))
	atomicWrite(t, n.cm, map[string]string{"web": "profile web { bogus }\n"})
	must(t, os.WriteFile(filepath.Join(n.aafs, "profiles"), nil, 0o644))
	st := reconcile(t, New(n.config()))
	w := byName(st)["web"]
	if w.State != StateInvalid || !w.Loaded || w.LoadedHash != Hash([]byte(good)) || n.loaded()["web"] != "enforce" {
		t.Errorf("%+v, kernel %v", w, n.loaded())
	}
}

// TestKernelRejects: a kernel rejection is reported as failed, nothing
// is recorded as owned, and the next reconcile retries.
func TestKernelRejects(t *testing.T) {
	n := newNode(t)
	t.Setenv("FAKE_PARSER_REJECT", "1")
	atomicWrite(t, n.cm, map[string]string{"web": profile("web", "", "")})
	a := New(n.config())
	st := reconcile(t, a)
	if w := byName(st)["web"]; w.State != StateFailed || w.Loaded || st.Ready || !a.retryWanted() {
		t.Errorf("%+v", st)
	}
	own, err := loadOwnership(n.state)
	must(t, err)
	if len(own.Profiles) != 0 {
		t.Errorf("a rejected profile is recorded as owned: %+v", own.Profiles)
	}
	t.Setenv("FAKE_PARSER_REJECT", "")
	if st := reconcile(t, a); !st.Ready {
		t.Errorf("retry: %+v", st)
	}
}

// TestRunWatchesDataSwap: Run reacts to the ..data swap within seconds,
// with a resync far away.
func TestRunWatchesDataSwap(t *testing.T) {
	n := newNode(t)
	atomicWrite(t, n.cm, map[string]string{"web": profile("web", "", "")})
	cfg := n.config()
	cfg.Resync = time.Hour
	a := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitFor(t, func() bool { return a.Status().Ready })
	atomicWrite(t, n.cm, map[string]string{"web": profile("web", "", ""), "api": profile("api", "complain", "")})
	waitFor(t, func() bool { return n.loaded()["api"] == "complain" })
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHandler: /readyz is 503 until the first reconcile loaded the set;
// /status and /metrics report per profile.
func TestHandler(t *testing.T) {
	n := newNode(t)
	atomicWrite(t, n.cm, map[string]string{"web": profile("web", "", ""), "runc": profile("runc", "", "")})
	a := New(n.config())
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.Collector())
	srv := httptest.NewServer(a.Handler(reg, nil))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "loading") {
		t.Errorf("/readyz before the first reconcile: %d %s", code, body)
	}
	reconcile(t, a)
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "runc (refused)") {
		t.Errorf("/readyz with a refused profile: %d %s", code, body)
	}
	atomicWrite(t, n.cm, map[string]string{"web": profile("web", "", "")})
	reconcile(t, a)
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz: %d", code)
	}
	_, body := get("/status")
	var st Status
	must(t, json.Unmarshal([]byte(body), &st))
	if len(st.Profiles) != 1 || !st.Profiles[0].Current() || st.Version == "" {
		t.Errorf("/status: %s", body)
	}
	if code, _ := get("/denials"); code != 404 {
		t.Errorf("/denials without attribution: %d", code)
	}
	want := `
# HELP armorer_agent_profile_current Whether the ConfigMap's version of a profile is the one loaded (1), or an older one or none (0: invalid, refused or failed; see /status).
# TYPE armorer_agent_profile_current gauge
armorer_agent_profile_current{profile="web"} 1
# HELP armorer_agent_ready Whether every profile of the ConfigMap is loaded on this node (1) or not (0): what /readyz reports.
# TYPE armorer_agent_ready gauge
armorer_agent_ready 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "armorer_agent_ready", "armorer_agent_profile_current"); err != nil {
		t.Error(err)
	}
}

// TestStateLock: a second agent on the same state directory waits for
// the first to exit.
func TestStateLock(t *testing.T) {
	dir := t.TempDir()
	a := New(Config{StateDir: dir})
	b := New(Config{StateDir: dir})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	la, err := a.lockState(ctx)
	must(t, err)
	got := make(chan error, 1)
	go func() {
		lb, err := b.lockState(ctx)
		if err == nil {
			lb.Unlock()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("second agent did not wait: %v", err)
	case <-time.After(1500 * time.Millisecond):
	}
	la.Unlock()
	select {
	case err := <-got:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("second agent still waiting after the first released the lock")
	}
}
