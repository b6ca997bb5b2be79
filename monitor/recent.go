package monitor

import "time"

// ring keeps the most recent denials, oldest first when listed.
type ring struct {
	buf  []Observation
	next int
	full bool
}

func newRing(n int) *ring { return &ring{buf: make([]Observation, n)} }

func (r *ring) add(o Observation) {
	r.buf[r.next] = o
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
}

// list returns the kept denials, newest first.
func (r *ring) list() []Observation {
	n := r.next
	if r.full {
		n = len(r.buf)
	}
	out := make([]Observation, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.buf[(r.next-i+len(r.buf))%len(r.buf)])
	}
	return out
}

// Denial is one recent denial as /denials shows it.
type Denial struct {
	Time      *time.Time `json:"time,omitempty"`
	Profile   string     `json:"profile"`
	Operation string     `json:"operation"`
	Class     string     `json:"class,omitempty"`
	Name      string     `json:"name,omitempty"`
	Requested string     `json:"requested_mask,omitempty"`
	Denied    string     `json:"denied_mask,omitempty"`
	PID       int64      `json:"pid,omitempty"`
	Comm      string     `json:"comm,omitempty"`
}

func denialOf(o Observation) Denial {
	d := Denial{Profile: o.Profile, Operation: o.Operation, Class: string(o.Class), Name: o.Name,
		Requested: o.Requested, Denied: o.Denied, PID: o.PID, Comm: o.Comm}
	if !o.Time.IsZero() {
		t := o.Time.UTC()
		d.Time = &t
	}
	return d
}
