// Package vmproto is the control protocol between a vmtest.Machine (host)
// and vmtest-agent (guest) over the VM's second serial port: one JSON object
// per line each way, one request at a time, the guest answering each. []byte
// fields travel base64-encoded, so a line never holds a raw newline.
package vmproto

import "time"

// Operations.
const (
	OpExec     = "exec"     // run Argv, wait (bounded by Timeout), return its output
	OpWrite    = "write"    // write Data to Path with Mode (parents made)
	OpRead     = "read"     // return Path's contents
	OpStart    = "start"    // start daemon Name (Argv) in the background, output to Log
	OpStop     = "stop"     // SIGTERM daemon Name (or the PID in PIDFile), SIGKILL after Timeout
	OpPoweroff = "poweroff" // the agent exits; /init powers the VM off
)

// Request is one host → guest message.
type Request struct {
	Op string `json:"op"`

	// exec and start
	Argv    []string      `json:"argv,omitempty"`
	Dir     string        `json:"dir,omitempty"`
	Env     []string      `json:"env,omitempty"`  // added to the agent's environment
	User    string        `json:"user,omitempty"` // run as this user (its groups too); empty: root
	Stdin   []byte        `json:"stdin,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"` // exec: kill after; stop: SIGKILL after

	// start and stop
	Name    string `json:"name,omitempty"`
	PIDFile string `json:"pidfile,omitempty"` // a daemon that forks away: its PID is in this file
	Log     string `json:"log,omitempty"`

	// write and read
	Path string `json:"path,omitempty"`
	Data []byte `json:"data,omitempty"`
	Mode uint32 `json:"mode,omitempty"`
}

// Response is one guest → host message.
type Response struct {
	Err      string        `json:"err,omitempty"`
	Hello    string        `json:"hello,omitempty"` // the agent's first message: the kernel release
	Stdout   []byte        `json:"stdout,omitempty"`
	Stderr   []byte        `json:"stderr,omitempty"`
	RC       int           `json:"rc"`
	TimedOut bool          `json:"timed_out,omitempty"`
	Data     []byte        `json:"data,omitempty"`
	PID      int           `json:"pid,omitempty"`
	Killed   bool          `json:"killed,omitempty"` // stop: SIGTERM was not enough within Timeout
	Took     time.Duration `json:"took,omitempty"`
}
