//go:build !unix

package statelock

import "os"

// tryLock: without flock, writers rely on atomic renames alone.
func tryLock(*os.File) (bool, error) { return false, nil }
