package host

// Process is one process and the label confining it.
type Process struct {
	PID     int    `json:"pid"`
	Comm    string `json:"comm,omitempty"`
	Exe     string `json:"exe,omitempty"`
	Label   string `json:"label"`
	Profile string `json:"profile"` // the label's name ("unconfined" when unconfined)
	Mode    Mode   `json:"mode"`
}
