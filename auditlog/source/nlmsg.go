package source

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// nlmsgHeaderLen is sizeof(struct nlmsghdr): len u32, type u16, flags u16,
// seq u32, pid u32, in host byte order.
const nlmsgHeaderLen = 16

// Netlink control message types (linux/netlink.h).
const (
	nlmsgNoop    = 1
	nlmsgError   = 2
	nlmsgDone    = 3
	nlmsgOverrun = 4
)

var errNlmsgTruncated = errors.New("truncated netlink message")

// parseNetlink calls fn for each netlink message in b, a datagram as
// recvfrom(2) returned it. Payloads alias b. It stops at the first
// malformed header and returns an error; messages before it were passed to
// fn.
func parseNetlink(b []byte, fn func(typ uint16, payload []byte)) error {
	for len(b) > 0 {
		if len(b) < nlmsgHeaderLen {
			return fmt.Errorf("%w: %d bytes left, header needs %d", errNlmsgTruncated, len(b), nlmsgHeaderLen)
		}
		n := binary.NativeEndian.Uint32(b[0:4])
		typ := binary.NativeEndian.Uint16(b[4:6])
		if n < nlmsgHeaderLen || uint64(n) > uint64(len(b)) {
			return fmt.Errorf("%w: length %d, %d bytes left", errNlmsgTruncated, n, len(b))
		}
		fn(typ, b[nlmsgHeaderLen:n])
		aligned := min((uint64(n)+3)&^3, uint64(len(b)))
		b = b[aligned:]
	}
	return nil
}

// appendAuditLine formats an audit record the way auditd's log has it:
// "type=NNNN msg=" and the kernel's text, without trailing NULs or newlines.
func appendAuditLine(dst []byte, typ uint16, payload []byte) []byte {
	payload = bytes.TrimRight(payload, "\x00\n")
	dst = append(dst, "type="...)
	dst = strconv.AppendUint(dst, uint64(typ), 10)
	dst = append(dst, " msg="...)
	return append(dst, payload...)
}
