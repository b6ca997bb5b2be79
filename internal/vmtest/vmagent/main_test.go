package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/vmtest/vmproto"
)

// client drives an agent over pipes, as a Machine does over the serial line.
type client struct {
	t   *testing.T
	w   io.Writer
	r   *bufio.Reader
	enc *json.Encoder
}

func newClient(t *testing.T) *client {
	hostR, agentW := io.Pipe()
	agentR, hostW := io.Pipe()
	a := &agent{daemons: map[string]*daemon{}}
	done := make(chan error, 1)
	go func() { done <- a.serve(agentR, agentW) }()
	t.Cleanup(func() { hostW.Close(); hostR.Close(); <-done })
	c := &client{t: t, w: hostW, r: bufio.NewReader(hostR), enc: json.NewEncoder(hostW)}
	if hello := c.read(); hello.Hello == "" {
		t.Fatalf("first message %+v, want a hello", hello)
	}
	return c
}

func (c *client) read() vmproto.Response {
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		c.t.Fatal(err)
	}
	var resp vmproto.Response
	if err := json.Unmarshal(line, &resp); err != nil {
		c.t.Fatal(err)
	}
	return resp
}

func (c *client) do(req vmproto.Request) vmproto.Response {
	c.t.Helper()
	if err := c.enc.Encode(req); err != nil {
		c.t.Fatal(err)
	}
	return c.read()
}

func TestExec(t *testing.T) {
	c := newClient(t)
	r := c.do(vmproto.Request{Op: vmproto.OpExec, Argv: []string{"sh", "-c", "cat; echo err >&2; exit 3"}, Stdin: []byte("in\x00put"), Timeout: 10 * time.Second})
	if r.Err != "" || r.RC != 3 || string(r.Stdout) != "in\x00put" || string(r.Stderr) != "err\n" || r.TimedOut {
		t.Errorf("exec: %+v", r)
	}
	start := time.Now()
	r = c.do(vmproto.Request{Op: vmproto.OpExec, Argv: []string{"sh", "-c", "sleep 30 & sleep 30"}, Timeout: 200 * time.Millisecond})
	if !r.TimedOut || r.RC != 128+9 {
		t.Errorf("exec over its timeout: %+v", r)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a timed-out command with a background child took %v", d)
	}
	if r = c.do(vmproto.Request{Op: vmproto.OpExec, Argv: []string{"/nonexistent"}}); r.Err == "" {
		t.Errorf("exec of a missing program: %+v, want an error", r)
	}
	if r = c.do(vmproto.Request{Op: "frobnicate"}); !strings.Contains(r.Err, "unknown op") {
		t.Errorf("unknown op: %+v", r)
	}
}

func TestFiles(t *testing.T) {
	c := newClient(t)
	p := filepath.Join(t.TempDir(), "a", "b")
	data := []byte("x\ny\x00\xff")
	if r := c.do(vmproto.Request{Op: vmproto.OpWrite, Path: p, Data: data, Mode: 0o600}); r.Err != "" {
		t.Fatal(r.Err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("written file: %v %v", fi, err)
	}
	if r := c.do(vmproto.Request{Op: vmproto.OpRead, Path: p}); string(r.Data) != string(data) {
		t.Errorf("read back %q", r.Data)
	}
	if r := c.do(vmproto.Request{Op: vmproto.OpWrite, Path: "rel/x"}); r.Err == "" {
		t.Error("relative path: want an error")
	}
}

func TestDaemons(t *testing.T) {
	c := newClient(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "d.log")
	// Exits 0 on SIGTERM, like a well-behaved service.
	script := "trap 'echo bye; exit 0' TERM; echo up; while :; do sleep 0.1; done"
	r := c.do(vmproto.Request{Op: vmproto.OpStart, Name: "d", Argv: []string{"sh", "-c", script}, Log: log})
	if r.Err != "" || r.PID == 0 {
		t.Fatalf("start: %+v", r)
	}
	if r := c.do(vmproto.Request{Op: vmproto.OpStart, Name: "d", Argv: []string{"true"}, Log: log}); !strings.Contains(r.Err, "already running") {
		t.Errorf("second start: %+v", r)
	}
	time.Sleep(300 * time.Millisecond)
	r = c.do(vmproto.Request{Op: vmproto.OpStop, Name: "d", Timeout: 5 * time.Second})
	if r.Err != "" || r.Killed || r.RC != 0 {
		t.Errorf("stop: %+v", r)
	}
	if b, _ := os.ReadFile(log); string(b) != "up\nbye\n" {
		t.Errorf("log = %q", b)
	}
	// Ignores SIGTERM: killed after the timeout.
	r = c.do(vmproto.Request{Op: vmproto.OpStart, Name: "stubborn", Argv: []string{"sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"}, Log: log})
	if r.Err != "" {
		t.Fatal(r.Err)
	}
	time.Sleep(300 * time.Millisecond)
	r = c.do(vmproto.Request{Op: vmproto.OpStop, Name: "stubborn", Timeout: 300 * time.Millisecond})
	if !r.Killed || r.RC != 128+9 {
		t.Errorf("stop of a daemon ignoring SIGTERM: %+v", r)
	}
	// Forks away, leaving its PID in a file.
	pidfile := filepath.Join(dir, "fork.pid")
	r = c.do(vmproto.Request{Op: vmproto.OpStart, Name: "fork", PIDFile: pidfile, Log: log,
		Argv: []string{"sh", "-c", "sh -c 'echo $$ > " + pidfile + "; exec sleep 60' & exit 0"}})
	if r.Err != "" {
		t.Fatal(r.Err)
	}
	for range 100 {
		if pidFrom(pidfile) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	pid := pidFrom(pidfile)
	r = c.do(vmproto.Request{Op: vmproto.OpStop, Name: "fork", Timeout: 5 * time.Second})
	if r.Err != "" || r.Killed || r.PID != pid || r.RC != -1 {
		t.Errorf("stop of a forking daemon (pid %d): %+v", pid, r)
	}
	if alive(pid) {
		t.Errorf("pid %d alive after stop", pid)
	}
	if r := c.do(vmproto.Request{Op: vmproto.OpStop, Name: "never"}); r.Err == "" {
		t.Error("stop of an unknown daemon: want an error")
	}
}
