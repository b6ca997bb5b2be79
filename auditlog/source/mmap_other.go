//go:build !linux

package source

import "os"

// mapFile does not map files here: they are read.
func mapFile(*os.File, int64) ([]byte, bool) { return nil, false }

func unmapFile([]byte) {}

func dropMapped([]byte) {}
