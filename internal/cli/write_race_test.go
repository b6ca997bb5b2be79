package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentLearnWrite runs two `armorer learn --write` processes at
// once on one profile directory, each learning a different file access of
// the same profile, many times: every run must keep both rules (issue 13
// item 5: without the profile directory's lock, the later rename dropped
// the other writer's rule while both exited 0).
func TestConcurrentLearnWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 40 processes")
	}
	repo, _ := filepath.Abs("../..")
	const runs = 20
	lost := 0
	for run := range runs {
		work := t.TempDir()
		tree := filepath.Join(work, "tree")
		if out, err := exec.Command("cp", "-r", filepath.Join(repo, "examples/myapp/apparmor.d"), tree).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v\n%s", err, out)
		}
		var wg sync.WaitGroup
		outs := make([]string, 2)
		errs := make([]error, 2)
		for i := range 2 {
			log := filepath.Join(work, fmt.Sprintf("audit%d.log", i))
			line := fmt.Sprintf(`[    3.902772] audit: type=1400 audit(1795600336.027:%d): apparmor="ALLOWED" operation="open" profile="myapp" name="/opt/myapp/writer%d.conf" pid=106 comm="myapp" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`+"\n", 6+i, i)
			if err := os.WriteFile(log, []byte(line), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "learn", "--dir", tree, log, "--write")
			cmd.Env = append(os.Environ(), "ARMORER_TEST_MAIN=1", "ARMORER_STATE_DIR="+filepath.Join(work, "state"))
			wg.Go(func() {
				out, err := cmd.CombinedOutput()
				outs[i], errs[i] = string(out), err
			})
		}
		wg.Wait()
		for i := range 2 {
			if errs[i] != nil {
				t.Fatalf("run %d writer %d: %v\n%s", run, i, errs[i], outs[i])
			}
		}
		b, err := os.ReadFile(filepath.Join(tree, "opt.myapp.bin.myapp"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if !strings.Contains(string(b), fmt.Sprintf("/opt/myapp/writer%d.conf r,", i)) {
				lost++
				t.Errorf("run %d: writer %d's rule is lost, both exited 0:\n%s\n%s\n%s", run, i, b, outs[0], outs[1])
			}
		}
	}
	t.Logf("%d runs of 2 concurrent writers, %d rules lost", runs, lost)
}
