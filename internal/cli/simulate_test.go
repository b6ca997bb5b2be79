package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The simulate gate answers enforce's question for the bundled example:
// the starting profile would deny recorded accesses, and no sources means
// no evidence (enforce then refuses on its own).
func TestSimulateGate(t *testing.T) {
	t.Setenv(EnvStateDir, t.TempDir()) // no recorded events
	io, _, _, _ := TestStreams()
	g := NewSimulateGate(io, nil)
	root, _ := filepath.Abs("../../examples/myapp")
	file := filepath.Join(root, "apparmor.d", "opt.myapp.bin.myapp")
	rep, err := g.Check(context.Background(), GateRequest{File: file, Profiles: []string{"myapp"}, Sources: []string{filepath.Join(root, "audit.log")}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Events == 0 || len(rep.Denials) == 0 || !strings.Contains(strings.Join(rep.Denials, "\n"), "myapp: /opt/myapp/config r,") {
		t.Errorf("report = %+v", rep)
	}
	rep, err = g.Check(context.Background(), GateRequest{File: file, Profiles: []string{"myapp"}})
	if err != nil || rep.Events != 0 || len(rep.Denials) != 0 {
		t.Errorf("no sources: %+v, %v", rep, err)
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatal(err)
	}
}
