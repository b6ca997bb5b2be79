// Package parsernoise removes the line apparmor_parser prints on every call
// when the kernel has no AppArmor cache interface. The line says nothing
// about the profile, so both the host's parser runner and the test oracle
// drop it before showing stderr to anyone.
package parsernoise

import "strings"

// Line starts the message printed on every call without a kernel cache
// interface ("... interface file missing. (Kernel needs ...)").
const Line = "Cache read/write disabled: interface file missing"

// Filter returns s without its noise lines; every other line is kept as is.
func Filter(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !strings.HasPrefix(line, Line) {
			b.WriteString(line)
		}
	}
	return b.String()
}
