//go:build unix

package atomicfile

import (
	"io/fs"
	"syscall"
)

// ownerOf is the file's owner, kept across the replacement.
func ownerOf(fi fs.FileInfo) *owner {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return &owner{int(st.Uid), int(st.Gid)}
	}
	return nil
}

// ownersKnown: processRuns tells.
const ownersKnown = true

// processRuns reports whether a process with pid exists (signal 0 checks
// without sending anything; EPERM means it exists as another user).
func processRuns(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
