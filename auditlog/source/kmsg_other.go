//go:build !linux

package source

import (
	"errors"
	"runtime"
)

func openKmsg(name string, opts SourceOptions) (Source, error) {
	return nil, &UnavailableError{Source: name, What: "open /dev/kmsg", Err: errors.New("not supported on " + runtime.GOOS), Hint: "kmsg: reads the Linux kernel log"}
}
