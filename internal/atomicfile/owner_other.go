//go:build !unix

package atomicfile

import "io/fs"

// ownerOf: ownership is not kept where there are no Unix owners.
func ownerOf(fs.FileInfo) *owner { return nil }

// processRuns cannot tell here: only age makes a temporary file stale.
func processRuns(int) bool { return true }

// ownersKnown: processRuns cannot tell here.
const ownersKnown = false
