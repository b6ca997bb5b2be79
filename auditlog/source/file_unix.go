//go:build unix

package source

import (
	"io/fs"
	"syscall"
)

// fileInode returns the inode number of a file, to tell a replaced file
// from the one a resume point was taken in.
func fileInode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
