//go:build !unix

package source

import "io/fs"

// fileInode returns 0: this system has no inode numbers in FileInfo.
func fileInode(fs.FileInfo) uint64 { return 0 }
