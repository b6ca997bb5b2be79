//go:build e2e

package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/armorer-dev/armorer/internal/vmtest"
)

// The runtime services of the library: one HTTP service per runtime (Go,
// Node.js, Python), the test apps of testdata/apps, each serving a content
// directory under /opt/APP/public as www-data on a dual-stack port. Their
// attack probes go through the app's simulated remote code execution
// endpoint (/debug/rce?op=…): what an attacker who runs code in the
// process would try first.

// runtimeContent is the content directory of a runtime app: pages the
// training fetches, others only the test workload fetches, and directories
// without an index (listings).
func runtimeContent(dir string) string {
	return strings.NewReplacer("DIR", dir).Replace(`
mkdir -p DIR/css DIR/img DIR/about DIR/docs DIR/blog/2026 DIR/data
echo '<h1>home</h1>' > DIR/index.html
echo 'body{color:#333}' > DIR/css/site.css
echo 'h1{font-size:2em}' > DIR/css/print.css
head -c 4096 /dev/urandom > DIR/img/logo.png
head -c 2048 /dev/urandom > DIR/img/banner.png
echo '<h1>about</h1>' > DIR/about/index.html
echo '<h1>team</h1>' > DIR/about/team.html
echo 'the guide' > DIR/docs/guide.txt
echo 'the faq' > DIR/docs/faq.txt
head -c 1048576 /dev/urandom > DIR/docs/manual.bin
echo '<h1>post</h1>' > DIR/blog/2026/first-post.html
echo '<h1>second</h1>' > DIR/blog/2026/second-post.html
echo '{"rows": 3}' > DIR/data/report.json
echo '{"rows": 5}' > DIR/data/summary.json
`)
}

// runtimeTrain is the training workload against port: pages, assets and
// listings over IPv4 and IPv6, HEAD and a 404, then the app's own extra.
func runtimeTrain(port, extra string) string {
	return strings.NewReplacer("PORT", port).Replace(`set -e
for h in 127.0.0.1 '[::1]'; do
  for p in / /index.html /css/site.css /img/logo.png /about/ /docs/ /docs/guide.txt /docs/manual.bin /blog/2026/ /blog/2026/first-post.html /data/report.json; do
    curl -fsS -o /dev/null "http://$h:PORT$p"
  done
  curl -fsS http://$h:PORT/docs/ | grep -q guide.txt
  curl -fsS -o /dev/null -I "http://$h:PORT/css/site.css"
  test "$(curl -s -o /dev/null -w '%{http_code}' "http://$h:PORT/no/such/page")" = 404
done
# a few clients at once
for i in 1 2 3 4; do curl -fsS -o /dev/null http://127.0.0.1:PORT/docs/manual.bin & done; wait
` + extra)
}

// runtimeTest is the test workload: pages and listings the training did
// not fetch.
func runtimeTest(port string) []check {
	r := strings.NewReplacer("PORT", port)
	return []check{
		{"team page (not fetched in training), IPv4", r.Replace(`curl -fsS http://127.0.0.1:PORT/about/team.html | grep -q team`)},
		{"faq over IPv6", r.Replace(`curl -fsS 'http://[::1]:PORT/docs/faq.txt' | grep -q faq`)},
		{"second post", r.Replace(`curl -fsS http://127.0.0.1:PORT/blog/2026/second-post.html | grep -q second`)},
		{"data listing over IPv6", r.Replace(`curl -fsS 'http://[::1]:PORT/data/' | grep -q summary.json`)},
		{"print stylesheet and banner", r.Replace(`curl -fsS -o /dev/null http://127.0.0.1:PORT/css/print.css && curl -fsS -o /dev/null 'http://[::1]:PORT/img/banner.png'`)},
		{"missing page 404", r.Replace(`test "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:PORT/docs/missing.txt)" = 404`)},
	}
}

// runtimeSetupProbes opens DAC on the probes' targets and gives the
// attacker root's SSH key to steal and, for node, the addon to load.
const runtimeSetupProbes = dacOpen + `
echo 'PRIVATE KEY' > /root/.ssh/id_rsa && chmod 0644 /root/.ssh/id_rsa
cp /opt/library/raw.node /tmp/raw.node && chmod 0755 /tmp/raw.node
`

// rceProbes are the attack probes through the app's /debug/rce endpoint
// on port; raw is the regexp of the raw socket attempt's DENIED line.
func rceProbes(port string, raw probe) []probe {
	url := "curl -fsS http://127.0.0.1:" + port + "/debug/rce?op="
	raw.sh = url + "raw-socket"
	return []probe{
		{"RCE reads /etc/shadow", url + "shadow", regexp.MustCompile(`name="/etc/shadow"`)},
		{"RCE reads root's SSH key", url + "ssh-key", regexp.MustCompile(`name="/root/\.ssh/id_rsa"`)},
		{"RCE writes /etc/cron.d/x", url + "cron", regexp.MustCompile(`name="/etc/cron\.d/x"`)},
		{"RCE spawns /bin/sh", url + "shell", regexp.MustCompile(`operation="exec".*name="/usr/bin/dash"`)},
		raw,
	}
}

// rawInet is the DENIED line of a raw IPv4 socket.
var rawInet = regexp.MustCompile(`operation="create".*family="inet" sock_type="raw"`)

// runtimeService is the service of a runtime app: daemon runs binary as
// www-data, serving the app's content tree /opt/APP/public (APP: the
// daemon's name) on port, trained and tested by the shared workloads
// (train: the app's extra training) and probed through its RCE endpoint
// (raw: its raw socket attempt).
func runtimeService(name, comm, daemon, binary, port, train string, raw probe) libService {
	return libService{
		name:    name,
		comm:    comm,
		binary:  binary,
		prepare: runtimeContent("/opt/" + daemon + "/public"),
		daemon:  vmtest.Daemon{Name: daemon, User: "www-data", Argv: []string{binary}},
		ready:   "curl -fsS -o /dev/null http://127.0.0.1:" + port + "/",
		train:   runtimeTrain(port, train),
		test:    runtimeTest(port),
		probes:  rceProbes(port, raw),

		setupProbes: runtimeSetupProbes,
	}
}

var goService = func() libService {
	// primes: compute-bound requests, long enough for the runtime to
	// preempt them (SIGURG to its own threads)
	s := runtimeService("go", "goapp", "goapp", "/opt/goapp/goapp", "8081", `for h in 127.0.0.1 '[::1]'; do curl -fsS "http://$h:8081/primes?n=300000" | grep -qx 25997; done
for i in 1 2 3; do curl -fsS -o /dev/null 'http://127.0.0.1:8081/primes?n=200000' & done; wait
`, probe{name: "RCE opens a raw socket", denied: rawInet})
	s.test = append(s.test, check{"primes below another bound, IPv6", `curl -fsS 'http://[::1]:8081/primes?n=250000' | grep -qx 22044`})
	return s
}()

// node is started by its own path: the kernel names the process after
// it. Node has no raw socket API: the attacker's way to one is native
// code, a process.dlopen of an addon it dropped in /tmp.
var nodeService = runtimeService("node", "server.js", "nodeapp", "/opt/nodeapp/server.js", "8082", "",
	probe{name: "RCE loads a native addon from /tmp (Node's way to a raw socket)", denied: regexp.MustCompile(`name="/tmp/raw\.node"`)})

var pythonService = runtimeService("python", "server.py", "pyapp", "/opt/pyapp/server.py", "8083", "",
	probe{name: "RCE opens a raw socket", denied: rawInet})

// runtimeFiles are the runtime apps in the VM: goapp built here (static),
// the node and python apps as they are in testdata/apps, and the addon
// node's probe loads.
func runtimeFiles(t *testing.T, ctx context.Context, dir string) []vmtest.File {
	t.Helper()
	root, err := vmtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	apps := filepath.Join(root, "test/e2e/testdata/apps")
	goapp := filepath.Join(dir, "goapp")
	if err := vmtest.GoBuild(ctx, "./test/e2e/testdata/apps/goapp", goapp); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "raw.node")
	if b, err := exec.CommandContext(ctx, "gcc", "-shared", "-fPIC", "-Wall", "-o", raw, filepath.Join(apps, "nodeapp/raw.c")).CombinedOutput(); err != nil {
		t.Fatalf("gcc raw.node: %v\n%s", err, b)
	}
	return []vmtest.File{
		vmtest.Program(goapp, "/opt/goapp/goapp"),
		vmtest.Program(filepath.Join(apps, "nodeapp/server.js"), "/opt/nodeapp/server.js"),
		vmtest.Program(filepath.Join(apps, "pyapp/server.py"), "/opt/pyapp/server.py"),
		{Path: "/opt/library/raw.node", Src: raw, Mode: 0o755},
	}
}
