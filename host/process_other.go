//go:build !linux

package host

import "errors"

// Processes needs Linux's /proc.
func (h *Host) Processes() ([]Process, error) {
	return nil, errors.New("scan processes: AppArmor exists only on Linux")
}

func (h *Host) scanProcesses() ([]Process, int, error) {
	p, err := h.Processes()
	return p, 0, err
}
