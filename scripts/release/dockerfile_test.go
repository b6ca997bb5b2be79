package main

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The shipped Dockerfile is one the daemonless build reproduces, and it
// says what the DaemonSet expects (kube: the binary at /usr/local/bin/armorer, root).
func TestContribDockerfile(t *testing.T) {
	src, err := os.ReadFile("../../contrib/k8s/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	p, err := readDockerfile("Dockerfile", src)
	if err != nil {
		t.Fatal(err)
	}
	want := &imagePlan{
		Suite:    "bookworm",
		Packages: []string{"apparmor"},
		Removed:  []string{"/var/lib/apt/lists/*"},
		Copies:   []copyStep{{Src: "armorer", Dest: "/usr/local/bin/armorer", Mode: 0o755}},
	}
	want.Config.Env = []string{debianPath}
	want.Config.User = "0:0"
	want.Config.Entrypoint = []string{"/usr/local/bin/armorer"}
	want.Config.Cmd = []string{"k8s", "agent"}
	if d := cmp.Diff(want, p); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
}

func TestDockerfileSubset(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"other base", "FROM alpine:3\n", "only debian:SUITE"},
		{"multi-stage", "FROM debian:bookworm AS a\nFROM debian:bookworm\n", "exactly one stage"},
		{"arbitrary RUN", "FROM debian:bookworm\nRUN curl -o /x https://example.com/x\n", "Dockerfile:2: RUN: curl: only apt-get and rm"},
		{"pipe", "FROM debian:bookworm\nRUN apt-get update | tee log\n", "only && joins"},
		{"or", "FROM debian:bookworm\nRUN apt-get update || true\n", "only && joins"},
		{"recommends", "FROM debian:bookworm\nRUN apt-get install -y apparmor\n", "needs --no-install-recommends"},
		{"variable", "FROM debian:bookworm\nRUN apt-get install -y --no-install-recommends $PKG\n", "only literal words"},
		{"exec form", "FROM debian:bookworm\nRUN [\"apt-get\", \"update\"]\n", "only the shell form"},
		{"ADD", "FROM debian:bookworm\nADD x /x\n", "Dockerfile:2: ADD is not supported"},
		{"COPY --from", "FROM debian:bookworm\nCOPY --from=build /x /x\n", "only COPY [--chmod=MODE] SRC DEST"},
		{"relative COPY", "FROM debian:bookworm\nCOPY x y\n", "must be absolute"},
		{"relative rm", "FROM debian:bookworm\nRUN rm -rf lists\n", "only absolute paths"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readDockerfile("Dockerfile", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	// The config instructions, as docker build applies them.
	p, err := readDockerfile("Dockerfile", []byte("FROM debian:trixie-slim\nENV PATH=/opt/bin A=1\nLABEL a=b\nWORKDIR /w\nCMD [\"x\"]\nENTRYPOINT /bin/app --flag\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Suite != "trixie" || !cmp.Equal(p.Config.Env, []string{"PATH=/opt/bin", "A=1"}) || p.Config.Labels["a"] != "b" ||
		p.Config.WorkingDir != "/w" || p.Config.Cmd != nil || !cmp.Equal(p.Config.Entrypoint, []string{"/bin/sh", "-c", "/bin/app --flag"}) {
		t.Errorf("plan = %+v", p)
	}
}
