package source

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps the whole of f, a regular file of size bytes, read-only,
// so that a file read whole is parsed in place (no read(2) copy of every
// byte); ok is false when it cannot be mapped, and the file is read.
func mapFile(f *os.File, size int64) (data []byte, ok bool) {
	if size <= 0 || int64(int(size)) != size {
		return nil, false
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, false
	}
	return data, true
}

// unmapFile releases a mapping of mapFile.
func unmapFile(data []byte) { unix.Munmap(data) }

// dropMapped tells the kernel that data, a page-aligned part of a mapping
// already read, is not needed: its pages leave the process's resident set
// (they stay in the page cache, and a later read of them maps them again),
// so that reading a large file does not count it all as the process's
// memory.
func dropMapped(data []byte) { unix.Madvise(data, unix.MADV_DONTNEED) }
