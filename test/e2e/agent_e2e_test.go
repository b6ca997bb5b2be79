//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/debfetch"
	"github.com/armorer-dev/armorer/internal/testenv"
	"github.com/armorer-dev/armorer/internal/vmtest"
	"github.com/armorer-dev/armorer/kube/agent"
)

// agentProfile is a profile as a ConfigMap key holds it.
func agentProfile(abi, name, attach, flags, rules string) string {
	if attach != "" {
		attach = " " + attach
	}
	if flags != "" {
		flags = " flags=(" + flags + ")"
	}
	return "abi <abi/" + abi + ">,\ninclude <tunables/global>\n\nprofile " + name + attach + flags + " {\n  include <abstractions/base>\n" + rules + "}\n"
}

// agentScript is issue 10's Proof 2 in one boot: the agent against the
// volume layout kubelet's atomic writer produces (test/e2e/cmwrite),
// each ConfigMap version in /root/cm/N.
const agentScript = `
CM=/etc/armorer/profiles
API=http://127.0.0.1:9779
PROFILES=/sys/kernel/security/apparmor/profiles
# --allow-attachments: the held profile attaches to /opt/holder/sleep by
# path, so that a process it confines keeps it in use (step 5).
agent_start() {
	armorer k8s agent --profiles $CM --resync 3s --listen 127.0.0.1:9779 --attribution --allow-attachments --source kmsg: >>/root/agent.log 2>&1 &
	AGENT=$!
}
# wait_status SECS TEXT: until /status contains TEXT.
wait_status() {
	_end=$(($(date +%s) + $1))
	until wget -q -O - $API/status 2>/dev/null | grep -qF "$2"; do
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.3
	done
}
# cm N: the ConfigMap's version N, written as kubelet writes it; then wait
# until the agent has reconciled that version.
cm() {
	cmwrite $CM /root/cm/$1 >/dev/null
	wait_status 120 "\"volume_version\": \"$(readlink $CM/..data)\"" || echo "version $1 not reconciled in time"
}

# Someone else's profile, loaded before the agent.
step theirs-load 60 apparmor_parser -r -K /root/theirs.profile

# 1. add; ready only once loaded.
cmwrite $CM /root/cm/1 >/dev/null
agent_start
sh_step add-ready 180 'until wget -q -O /dev/null '$API'/readyz; do sleep 0.3; done; cat '$PROFILES
step add-status 10 wget -q -O - $API/status
sh_step add-files 5 'ls /etc/apparmor.d; echo ---; ls /var/lib/armorer/profiles'

# 2. update.
cm 2
step update-status 10 wget -q -O - $API/status

# 3. invalid update: reported, the previous version stays loaded.
cm 3
step invalid-status 10 wget -q -O - $API/status
step invalid-kernel 5 cat $PROFILES

# 4. names the agent must refuse: a runtime's, the distribution's, someone else's.
cm 4
step refused-status 10 wget -q -O - $API/status
step refused-kernel 5 cat $PROFILES
step refused-readyz 10 wget -q -O - $API/readyz

# 5. removal while in use: stays loaded, reported; unloaded once unused.
/opt/holder/sleep 600 >/dev/null 2>&1 &
HOLDER=$!
sleep 0.5
step held-attr 5 cat /proc/$HOLDER/attr/current
cm 5
step inuse-status 10 wget -q -O - $API/status
step inuse-kernel 5 cat $PROFILES
kill $HOLDER
wait $HOLDER
sh_step unused-wait 60 'until ! grep -q "^held " '$PROFILES'; do sleep 0.3; done; cat '$PROFILES
step unused-status 10 wget -q -O - $API/status

# 6. complain and back to enforce, the same name.
cm 6
step complain-kernel 5 cat $PROFILES
cm 7
step enforce-kernel 5 cat $PROFILES
step metrics 10 wget -q -O - $API/metrics

# 7. restart after the kernel lost the profiles (as after a reboot), with a
# new profile added meanwhile: /readyz only once both are loaded again.
kill $AGENT
wait $AGENT
step lost 30 apparmor_parser -R -K /var/lib/armorer/profiles/web
cmwrite $CM /root/cm/8 >/dev/null
agent_start
sh_step restart-ready 180 'n=0; until wget -q -O /dev/null '$API'/readyz; do n=$((n+1)); sleep 0.1; done; cat '$PROFILES'; echo "polls-before-ready=$n"'
step restart-status 10 wget -q -O - $API/status

# The node keeps the events of complain-mode profiles: learn can use them.
sh_step api-run 20 'echo -n "exec api" >/proc/self/attr/exec && exec /opt/holder/cat /etc/api.conf'
sleep 7
step api-events 20 armorer events --json state:api

# 8. a real container: Debian's runc runs an OCI bundle whose
# process.apparmorProfile is ctr, loaded by the agent, in a kubelet-style
# cgroup; its denial is attributed to the pod. A profile that is not
# loaded: runc's own error.
mount -t cgroup2 cgroup2 /sys/fs/cgroup
step runc-version 10 runc --version
step runc-run 60 runc run --no-pivot --bundle /root/bundle ` + ctrID + `
sleep 1
step runc-denials 10 wget -q -O - $API/denials
step runc-metrics 10 wget -q -O - $API/metrics
step runc-missing 60 runc run --no-pivot --bundle /root/bundle-missing ` + missingID + `

kill $AGENT
wait $AGENT
step agent-log 5 cat /root/agent.log
`

// The container of step 8: kubelet-style cgroup (cgroupfs driver) and
// containerd's CRI annotations, so the agent's attribution sees what it
// sees on a node.
const (
	ctrPodUID = "6f2b1c3e-8a4d-4b7e-9c1f-2d3e4f5a6b7c"
	ctrID     = "3f9a2b7c4d1e8f605a9b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071"
	missingID = "9e8d7c6b5a4f30211f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a392817060504"
)

// ociConfig is a runc bundle's config.json (the runtime spec's defaults
// from runc spec, without a network namespace or a terminal).
func ociConfig(profile, id, rootfs string, args ...string) string {
	spec := map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{
			"terminal": false, "user": map[string]any{"uid": 0, "gid": 0}, "args": args,
			"env": []string{"PATH=/bin"}, "cwd": "/", "apparmorProfile": profile, "noNewPrivileges": true,
			"capabilities": map[string]any{"bounding": []string{"CAP_KILL"}, "effective": []string{"CAP_KILL"}, "permitted": []string{"CAP_KILL"}},
		},
		"root":     map[string]any{"path": rootfs, "readonly": true},
		"hostname": "ctr",
		"mounts": []map[string]any{
			{"destination": "/proc", "type": "proc", "source": "proc"},
			{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		},
		"annotations": map[string]string{
			"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.container-name": "app",
			"io.kubernetes.cri.sandbox-name": "web-7d4b9c8f6d-x2x9z", "io.kubernetes.cri.sandbox-namespace": "shop",
			"io.kubernetes.cri.sandbox-uid": ctrPodUID,
		},
		"linux": map[string]any{
			"cgroupsPath": "/kubepods/besteffort/pod" + ctrPodUID + "/" + id,
			"namespaces":  []map[string]string{{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}},
		},
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestAgent is issue 10's Proof 2: armorer k8s agent on each real
// AppArmor kernel, driven through a ConfigMap volume written the way
// kubelet writes it.
func TestAgent(t *testing.T) {
	for _, k := range vmtest.Kernels {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel() // one qemu per kernel: TCG uses one core each
			a := vmtest.Need(t, k)
			ctx, cancel := context.WithTimeout(context.Background(), 16*time.Minute)
			defer cancel()
			start := time.Now()
			dir := t.TempDir()
			armorer, err := vmtest.BuildArmorer(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			cmwrite := filepath.Join(dir, "cmwrite")
			if err := vmtest.GoBuild(ctx, "./test/e2e/cmwrite", cmwrite); err != nil {
				t.Fatal(err)
			}
			abi := k.ABI
			p := func(name, attach, flags, rules string) string { return agentProfile(abi, name, attach, flags, rules) }
			web1 := p("web", "", "", "  /srv/web/** r,\n")
			web2 := p("web", "", "", "  /srv/web/** r,\n  /var/cache/web/** rw,\n")
			webBad := p("web", "", "", "  /srv/web/** r,\n  capability not_a_capability,\n")
			webComplain := p("web", "", "complain", "  /srv/web/** r,\n  /var/cache/web/** rw,\n")
			held := p("held", "/opt/holder/sleep", "", "  /opt/holder/sleep mr,\n")
			// The container's profile: busybox and its own label, nothing
			// of /etc.
			ctr := p("ctr", "", "attach_disconnected", "  /bin/busybox mrix,\n  @{PROC}/@{pid}/attr/{,apparmor/}current r,\n  signal (receive) peer=unconfined,\n")
			runc, err := runcFiles(ctx, k)
			if err != nil {
				testenv.Missing(t, "Debian's runc for %s: %v", k.Suite, err)
			}
			versions := []map[string]string{
				1: {"web": web1, "held": held},
				2: {"web": web2, "held": held},
				3: {"web": webBad, "held": held},
				4: {"web": web2, "held": held, "runc": p("runc", "/usr/sbin/runc", "", ""), "distrod": p("distrod", "", "", ""), "theirs": p("theirs", "", "", "")},
				5: {"web": web2},
				6: {"web": webComplain},
				7: {"web": web2},
				8: {"web": web2, "api": p("api", "", "complain", ""), "ctr": ctr},
			}
			img := &vmtest.Image{Files: []vmtest.File{
				armorer,
				vmtest.Program(cmwrite, "/usr/bin/cmwrite"),
				// A program of its own for the held profile to attach to
				// (busybox runs the applet its file is named after).
				vmtest.Program(a.Busybox, "/opt/holder/sleep"),
				vmtest.Program(a.Busybox, "/opt/holder/cat"),
				vmtest.Text("/etc/api.conf", "port=8080\n"),
				vmtest.Text("/etc/apparmor.d/usr.sbin.distrod", p("distrod", "/usr/sbin/distrod", "", "")),
				vmtest.Text("/root/theirs.profile", p("theirs", "", "complain", "")),
			}, Dirs: []string{"/etc/armorer", "/var/lib/armorer"}}
			img.Add(runc...)
			img.Add(vmtest.Program(a.Busybox, "/root/bundle/rootfs/bin/busybox"),
				vmtest.File{Path: "/root/bundle/rootfs/bin/sh", Symlink: "busybox"},
				vmtest.File{Path: "/root/bundle/rootfs/bin/cat", Symlink: "busybox"},
				vmtest.File{Path: "/root/bundle/rootfs/bin/sleep", Symlink: "busybox"},
				vmtest.Text("/root/bundle/rootfs/etc/secret", "not for the container\n"),
				vmtest.Text("/root/bundle/config.json", ociConfig("ctr", ctrID, "rootfs", "sh", "-c", "cat /proc/self/attr/current; read x </etc/secret; echo read-rc=$?; sleep 3")),
				vmtest.Text("/root/bundle-missing/config.json", ociConfig("ctr-missing", missingID, "/root/bundle/rootfs", "cat", "/proc/self/attr/current")))
			img.Dirs = append(img.Dirs, "/root/bundle/rootfs/proc", "/root/bundle/rootfs/dev")
			for n, v := range versions {
				for key, content := range v {
					img.Add(vmtest.Text(fmt.Sprintf("/root/cm/%d/%s", n, key), content))
				}
			}
			res, err := a.Run(ctx, img, agentScript, vmtest.Options{Timeout: 14 * time.Minute, Console: consoleFor(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: agent scenario wall time %v (build+boot+scenario; VM boot %v, VM wall %v)",
				k.Name, time.Since(start).Round(time.Millisecond), res.Boot.Round(time.Millisecond), res.Wall.Round(time.Millisecond))
			checkAgent(t, res, map[string]string{"web1": web1, "web2": web2, "held": held})
			checkContainer(t, res)
			if t.Failed() {
				t.Logf("agent log:\n%s", res.Output("agent-log"))
			}
		})
	}
}

func checkAgent(t *testing.T, res *vmtest.Result, src map[string]string) {
	rc := func(step string, want int) bool {
		t.Helper()
		st, ok := res.Step(step)
		if !ok || st.RC != want {
			t.Errorf("step %s: rc %d (ran: %v), want %d:\n%s", step, st.RC, ok, want, st.Output)
			return false
		}
		return true
	}
	status := func(step string) map[string]agent.ProfileStatus {
		t.Helper()
		var st agent.Status
		if err := json.Unmarshal([]byte(res.Output(step)), &st); err != nil {
			t.Errorf("%s: not JSON: %v\n%s", step, err, res.Output(step))
		}
		m := map[string]agent.ProfileStatus{}
		for _, p := range st.Profiles {
			m[p.Name] = p
		}
		return m
	}
	kernel := func(step string) map[string]string {
		t.Helper()
		m := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(res.Output(step)), "\n") {
			if i := strings.LastIndex(l, " ("); i > 0 && strings.HasSuffix(l, ")") {
				m[l[:i]] = l[i+2 : len(l)-1]
			}
		}
		return m
	}
	hash := func(name string) string { return agent.Hash([]byte(src[name])) }

	rc("theirs-load", 0)
	// 1. add
	if rc("add-ready", 0) {
		if k := kernel("add-ready"); k["web"] != "enforce" || k["held"] != "enforce" {
			t.Errorf("1: kernel when ready: %v", k)
		}
	}
	if s := status("add-status"); s["web"].LoadedHash != hash("web1") || s["held"].LoadedHash != hash("held") || !s["web"].Current() {
		t.Errorf("1: status %+v", s)
	}
	etc, state, _ := strings.Cut(res.Output("add-files"), "---")
	if strings.Contains(etc, "web") || strings.Contains(etc, "held") || !strings.Contains(state, "web") || !strings.Contains(state, "held") {
		t.Errorf("1: profiles must go to /var/lib/armorer/profiles only:\n%s", res.Output("add-files"))
	}
	// 2. update
	if w := status("update-status")["web"]; !w.Current() || w.LoadedHash != hash("web2") {
		t.Errorf("2: web after update: %+v", w)
	}
	// 3. invalid update
	s := status("invalid-status")
	if w := s["web"]; w.State != agent.StateInvalid || !w.Loaded || w.LoadedHash != hash("web2") || !strings.Contains(w.Error, "not_a_capability") {
		t.Errorf("3: web after an invalid update: %+v", w)
	}
	if h := s["held"]; h.State != agent.StateLoaded {
		t.Errorf("3: held next to an invalid profile: %+v", h)
	}
	if k := kernel("invalid-kernel"); k["web"] != "enforce" {
		t.Errorf("3: kernel: %v", k)
	}
	// 4. refused names
	s = status("refused-status")
	for name, why := range map[string]string{"runc": "container runtime", "distrod": "distribution", "theirs": "not by this agent"} {
		if p := s[name]; p.State != agent.StateRefused || p.Loaded || !strings.Contains(p.Error, why) {
			t.Errorf("4: %s: %+v", name, p)
		}
	}
	k := kernel("refused-kernel")
	if _, ok := k["runc"]; ok {
		t.Errorf("4: runc loaded from the ConfigMap: %v", k)
	}
	if _, ok := k["distrod"]; ok {
		t.Errorf("4: distrod loaded from the ConfigMap: %v", k)
	}
	if k["theirs"] != "complain" {
		t.Errorf("4: someone else's profile changed: %v", k)
	}
	if st, _ := res.Step("refused-readyz"); st.RC == 0 {
		t.Errorf("4: /readyz succeeded with refused profiles")
	}
	// 5. removal in use, then unused
	if got := strings.TrimSpace(res.Output("held-attr")); got != "held (enforce)" {
		t.Errorf("5: holder's label %q, want held (enforce)", got)
	}
	if h := status("inuse-status")["held"]; h.State != agent.StateInUse || !h.Loaded || h.Confining != 1 || h.Desired {
		t.Errorf("5: held removed while in use: %+v", h)
	}
	if k := kernel("inuse-kernel"); k["held"] != "enforce" {
		t.Errorf("5: held unloaded while in use: %v", k)
	}
	if rc("unused-wait", 0) {
		if _, ok := status("unused-status")["held"]; ok {
			t.Errorf("5: unused held still reported: %s", res.Output("unused-status"))
		}
	}
	// 6. mode switch
	if k := kernel("complain-kernel"); k["web"] != "complain" {
		t.Errorf("6: kernel after the complain switch: %v", k)
	}
	if k := kernel("enforce-kernel"); k["web"] != "enforce" {
		t.Errorf("6: kernel after the enforce switch: %v", k)
	}
	metrics := res.Output("metrics")
	for _, want := range []string{`armorer_apparmor_profile_loaded{profile="web"} 1`, `armorer_agent_ready 1`, `armorer_agent_profile_current{profile="web"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("6: metrics lack %s:\n%s", want, metrics)
		}
	}
	// 7. restart
	rc("lost", 0)
	if rc("restart-ready", 0) {
		k := kernel("restart-ready")
		if k["web"] != "enforce" || k["api"] != "complain" {
			t.Errorf("7: /readyz said ready before the set was loaded: kernel %v", k)
		}
		if m := regexp.MustCompile(`polls-before-ready=(\d+)`).FindStringSubmatch(res.Output("restart-ready")); m != nil {
			t.Logf("7: /readyz polled %s times (100 ms apart) before ready", m[1])
		}
	}
	if s := status("restart-status"); !s["api"].Current() || !s["web"].Current() {
		t.Errorf("7: status after restart: %+v", s)
	}
	// complain-mode events kept on the node
	rc("api-run", 0)
	if rc("api-events", 0) && !strings.Contains(res.Output("api-events"), `"name":"/etc/api.conf"`) {
		t.Errorf("7: the agent did not keep api's complain-mode events:\n%s", res.Output("api-events"))
	}
}

// runcFiles are Debian's runc of k's release and the libseccomp it links.
func runcFiles(ctx context.Context, k vmtest.Kernel) ([]vmtest.File, error) {
	root, err := os.MkdirTemp("", "runc-"+k.Name+"-")
	if err != nil {
		return nil, err
	}
	f := &debfetch.Fetcher{Suite: k.Suite, CacheDir: debfetch.DefaultCacheDir()}
	if err := f.Extract(ctx, root, "runc", "libseccomp2"); err != nil {
		return nil, err
	}
	var files []vmtest.File
	for _, p := range []string{"usr/sbin/runc", "usr/bin/runc"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			files = append(files, vmtest.Program(filepath.Join(root, p), "/usr/sbin/runc"))
			break
		}
	}
	libs, _ := filepath.Glob(filepath.Join(root, "usr/lib/x86_64-linux-gnu/libseccomp.so.2*"))
	for _, l := range libs {
		if fi, err := os.Lstat(l); err == nil && fi.Mode().IsRegular() {
			// After runc: replaces the host's copy the image took for it.
			files = append(files, vmtest.Program(l, "/lib/x86_64-linux-gnu/libseccomp.so.2"))
		}
	}
	if len(files) != 2 {
		return nil, fmt.Errorf("runc or libseccomp.so.2 missing from the %s packages in %s", k.Suite, root)
	}
	return files, nil
}

// checkContainer checks step 8: runc confines the container with the
// agent's profile, the denial is attributed to the pod through the
// container's cgroup, and an unloaded profile fails the start.
func checkContainer(t *testing.T, res *vmtest.Result) {
	t.Logf("runc: %s", firstLine(res.Output("runc-version")))
	out := res.Output("runc-run")
	if !strings.Contains(out, "ctr (enforce)") || !strings.Contains(out, "read-rc=") || strings.Contains(out, "read-rc=0") {
		t.Errorf("8: runc run: the container must run confined by ctr and be denied /etc/secret:\n%s", out)
	}
	var denials []agent.PodDenial
	if err := json.Unmarshal([]byte(res.Output("runc-denials")), &denials); err != nil {
		t.Fatalf("8: /denials: %v\n%s", err, res.Output("runc-denials"))
	}
	found := false
	for _, d := range denials {
		if d.Profile != "ctr" || !strings.HasSuffix(d.Name, "/etc/secret") {
			continue
		}
		found = true
		if b, err := json.Marshal(d); err == nil {
			t.Logf("8: attributed: %s", b)
		}
		if d.Pod == nil || d.Pod.Namespace != "shop" || d.Pod.Name != "web-7d4b9c8f6d-x2x9z" || d.Pod.Container != "app" ||
			d.Pod.Workload != "web" || d.Pod.PodUID != ctrPodUID || d.Pod.ContainerID != ctrID || d.Pod.Version != 2 {
			t.Errorf("8: denial not attributed to the container's pod: %+v (pod %+v)", d, d.Pod)
		}
	}
	if !found {
		t.Errorf("8: no ctr denial of /etc/secret in /denials:\n%s", res.Output("runc-denials"))
	}
	if want := `armorer_agent_pod_denials_total{namespace="shop",profile="ctr",workload="web"}`; !strings.Contains(res.Output("runc-metrics"), want) {
		t.Errorf("8: metrics lack %s", want)
	}
	if st, _ := res.Step("runc-missing"); st.RC == 0 || !strings.Contains(st.Output, "apparmor") {
		t.Errorf("8: runc with a profile that is not loaded: rc %d:\n%s", st.RC, st.Output)
	} else {
		t.Logf("8: runc with an unloaded profile: %s", strings.TrimSpace(st.Output))
	}
}
