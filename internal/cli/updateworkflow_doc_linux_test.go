package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUpdateWorkflowDoc runs docs/update-workflow.md: every ```sh block, in
// order and in one shell (as a reader pastes them into one terminal), in a
// directory holding examples/myapp's profile tree and the guide's logs. It
// fails when a command fails (sh -e) or when a block's output (stdout and
// stderr as a terminal shows them) differs from the ```text block after it;
// a block without one must print nothing. -update rewrites the text blocks.
func TestUpdateWorkflowDoc(t *testing.T) {
	runDoc(t, "../../docs/update-workflow.md", func(work string) {
		copyInto(t, work, "apparmor.d", "../../examples/myapp/apparmor.d")
		copyFile(t, filepath.Join(work, "v1.log"), "../../examples/myapp/audit.log")
		for _, name := range []string{"v2-staging.log", "v2-prod.log"} {
			copyFile(t, filepath.Join(work, name), filepath.Join("../../docs/update-workflow", name))
		}
	})
}

// docWorkDir is the directory the guide's outputs name; the test's own
// directory is replaced by it in what the commands print.
const docWorkDir = "/srv/myapp"

// backupStamp is the name of a kept version (UTC time of the write); it
// differs in every run, so both sides are compared with it masked.
var backupStamp = regexp.MustCompile(`\b[0-9]{8}T[0-9]{6}\.[0-9]{9}Z\b`)

type docBlock struct {
	line     int    // of the ```sh fence, 1-based
	script   string // the commands
	want     *docOutput
	afterEnd int // index in the file's lines just past the sh block
}

type docOutput struct {
	start, end int // lines of the text block's body: lines[start:end]
	text       string
}

func runDoc(t *testing.T, docPath string, setup func(work string)) {
	if testing.Short() {
		t.Skip("runs the whole guide")
	}
	parser, err := exec.LookPath("apparmor_parser")
	if err != nil {
		if _, serr := os.Stat("/sbin/apparmor_parser"); serr != nil {
			t.Skip("apparmor_parser is not installed: the guide's writes are validated by it")
		}
		parser = "/sbin/apparmor_parser"
	}
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(raw), "\n")
	blocks, err := parseDocBlocks(lines)
	if err != nil {
		t.Fatalf("%s: %v", docPath, err)
	}
	if len(blocks) == 0 {
		t.Fatalf("%s has no sh blocks", docPath)
	}

	tmp := t.TempDir()
	work := filepath.Join(tmp, "myapp")
	bin := filepath.Join(tmp, "bin")
	for _, d := range []string{work, bin} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(bin, "armorer")); err != nil {
		t.Fatal(err)
	}
	setup(work)

	// One script; a marker line before each block splits the output again.
	marker := fmt.Sprintf("@@doc-block-%d@@", time.Now().UnixNano())
	var script strings.Builder
	for i, b := range blocks {
		fmt.Fprintf(&script, "echo '%s %d'\n%s", marker, i, b.script)
	}
	scriptFile := filepath.Join(tmp, "doc.sh")
	if err := os.WriteFile(scriptFile, []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-e", scriptFile)
	cmd.Dir = work
	cmd.Env = docEnv(bin, tmp, parser)
	// The guide starts a monitor in the background: its own process group,
	// killed as a whole when the shell ends or the timeout strikes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out // one pipe: the order a terminal shows
	runErr := cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // what the script left running
	}

	got, last := splitDocOutput(out.String(), marker, len(blocks))
	for i := range got {
		got[i] = strings.ReplaceAll(got[i], work, docWorkDir)
		// Backup paths repeat the profile file's absolute path under backup/.
		got[i] = strings.ReplaceAll(got[i], strings.TrimPrefix(work, "/"), strings.TrimPrefix(docWorkDir, "/"))
	}
	if runErr != nil {
		if last < 0 {
			t.Fatalf("%s: the shell failed before the first block (%v):\n%s", docPath, runErr, out.String())
		}
		t.Fatalf("%s:%d: the block failed (%v); its output:\n%s", docPath, blocks[last].line, runErr, got[last])
	}

	if *update {
		if err := os.WriteFile(docPath, []byte(rewriteDoc(lines, blocks, got)), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for i, b := range blocks {
		want := ""
		if b.want != nil {
			want = b.want.text
		}
		if backupStamp.ReplaceAllString(got[i], "STAMP") != backupStamp.ReplaceAllString(want, "STAMP") {
			t.Errorf("%s:%d: the output differs from the guide's (go test -run %s -update rewrites it)\n--- guide\n%s--- now\n%s",
				docPath, b.line, t.Name(), want, got[i])
		}
	}
}

// docEnv is the environment of the guide's shell: armorer (this test
// binary) first on PATH, no AppArmor kernel (ARMORER_ROOT is an empty
// directory), the real apparmor_parser, and no ARMORER_* variable of the
// caller, so that --dir's state directory (DIR/.armorer) applies.
func docEnv(bin, tmp, parser string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "ARMORER_"), k == "PATH", k == "HOME", k == "NO_COLOR", k == "LC_ALL":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+filepath.Join(tmp, "home"),
		"LC_ALL=C",
		"NO_COLOR=1",
		"ARMORER_TEST_MAIN=1",
		"ARMORER_ROOT="+filepath.Join(tmp, "nokernel"),
		"ARMORER_APPARMOR_PARSER="+parser,
	)
}

// parseDocBlocks finds the ```sh blocks and the ```text block that follows
// each (only blank lines between).
func parseDocBlocks(lines []string) ([]docBlock, error) {
	var blocks []docBlock
	fence := func(i int) (string, bool) {
		l := strings.TrimRight(lines[i], "\n")
		if !strings.HasPrefix(l, "```") {
			return "", false
		}
		return strings.TrimSpace(strings.TrimPrefix(l, "```")), true
	}
	closing := func(from int) (int, error) {
		for j := from; j < len(lines); j++ {
			if info, ok := fence(j); ok && info == "" {
				return j, nil
			}
		}
		return 0, fmt.Errorf("line %d: unterminated code block", from)
	}
	for i := 0; i < len(lines); i++ {
		info, ok := fence(i)
		if !ok {
			continue
		}
		end, err := closing(i + 1)
		if err != nil {
			return nil, err
		}
		switch info {
		case "sh":
			blocks = append(blocks, docBlock{line: i + 1, script: strings.Join(lines[i+1:end], ""), afterEnd: end + 1})
		case "text":
			if n := len(blocks); n > 0 && blocks[n-1].want == nil && blank(lines[blocks[n-1].afterEnd:i]) {
				blocks[n-1].want = &docOutput{start: i + 1, end: end, text: strings.Join(lines[i+1:end], "")}
			}
		}
		i = end
	}
	return blocks, nil
}

func blank(lines []string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			return false
		}
	}
	return true
}

// splitDocOutput cuts the shell's output at the marker lines: one string
// per block, and the index of the last block that started.
func splitDocOutput(out, marker string, n int) ([]string, int) {
	got := make([]string, n)
	cur := -1
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		var i int
		if _, err := fmt.Sscanf(l, marker+" %d", &i); err == nil && i >= 0 && i < n {
			cur = i
			continue
		}
		if cur >= 0 {
			got[cur] += l + "\n"
		}
	}
	return got, cur
}

// rewriteDoc puts each block's output into its text block, adding one
// where a block printed something and had none, removing an empty one.
func rewriteDoc(lines []string, blocks []docBlock, got []string) string {
	var b strings.Builder
	next := 0
	for i, blk := range blocks {
		if blk.want != nil && got[i] == "" {
			b.WriteString(strings.Join(lines[next:blk.afterEnd], ""))
			next = blk.want.end + 1 // past the text block's closing fence
			continue
		}
		if blk.want != nil {
			b.WriteString(strings.Join(lines[next:blk.want.start], ""))
			b.WriteString(got[i])
			next = blk.want.end
			continue
		}
		b.WriteString(strings.Join(lines[next:blk.afterEnd], ""))
		next = blk.afterEnd
		if got[i] != "" {
			b.WriteString("\n```text\n" + got[i] + "```\n")
		}
	}
	b.WriteString(strings.Join(lines[next:], ""))
	return b.String()
}

func copyInto(t *testing.T, work, name, src string) {
	t.Helper()
	if err := os.CopyFS(filepath.Join(work, name), os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, dst, src string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
