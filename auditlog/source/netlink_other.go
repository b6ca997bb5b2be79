//go:build !linux

package source

import (
	"errors"
	"runtime"
)

func openNetlink(name string, opts SourceOptions) (Source, error) {
	return nil, &UnavailableError{Source: name, What: "open a NETLINK_AUDIT socket", Err: errors.New("not supported on " + runtime.GOOS), Hint: "netlink: reads the Linux audit multicast group"}
}
