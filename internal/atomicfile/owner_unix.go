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
