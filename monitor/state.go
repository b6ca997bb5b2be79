package monitor

import (
	"strings"
	"sync"
	"time"

	"github.com/armorer-dev/armorer/auditlog"
)

// Observation is what the monitor needs from one AppArmor event.
// The caller fills it from an auditlog.Event; strings must not alias
// buffers the caller reuses.
type Observation struct {
	Time      time.Time
	Outcome   auditlog.Outcome
	Operation string
	Class     auditlog.Class // derived by the caller when the kernel omits class=
	Profile   string         // the label
	Name      string         // path or other object; never a label value
	Requested string
	Denied    string
	PID       int64
	Comm      string
}

// otherProfile is the profile label used past MaxProfiles.
const otherProfile = "other"

// Options bound what the monitor keeps.
type Options struct {
	MaxProfiles int // distinct profile label values before folding into "other"; default 200
	// MaxOperations and MaxClasses bound the operation and class label
	// values the same way (a kernel or a forged log with thousands of
	// operation names must not make thousands of series); default 64 each.
	MaxOperations, MaxClasses int
	MaxSignatures             int // denial signatures remembered for new_denials_total; default 65536
	RecentSize                int // recent denials kept for /denials; default 256

	Build BuildInfo // exported as armorer_build_info
}

func (o *Options) setDefaults() {
	if o.MaxProfiles <= 0 {
		o.MaxProfiles = 200
	}
	if o.MaxOperations <= 0 {
		o.MaxOperations = 64
	}
	if o.MaxClasses <= 0 {
		o.MaxClasses = 64
	}
	if o.MaxSignatures <= 0 {
		o.MaxSignatures = 65536
	}
	if o.RecentSize <= 0 {
		o.RecentSize = 256
	}
}

type eventKey struct{ profile, class, outcome string }
type denialKey struct{ profile, operation, class string }
type signature struct{ profile, operation, pattern string }

// state holds every counter; collectors read it under the lock at scrape time.
type state struct {
	mu          sync.Mutex
	opts        Options
	profiles    map[string]struct{} // profile label values in use (bounded)
	operations  map[string]struct{} // operation label values in use (bounded)
	classes     map[string]struct{} // class label values in use (bounded)
	events      map[eventKey]float64
	denials     map[denialKey]float64
	newDenials  map[string]float64
	signatures  map[signature]struct{}
	lost        float64
	parseErrors float64
	recent      *ring
}

func newState(opts Options) *state {
	opts.setDefaults()
	return &state{
		opts:       opts,
		profiles:   map[string]struct{}{},
		operations: map[string]struct{}{},
		classes:    map[string]struct{}{},
		events:     map[eventKey]float64{},
		denials:    map[denialKey]float64{},
		newDenials: map[string]float64{},
		signatures: map[signature]struct{}{},
		recent:     newRing(opts.RecentSize),
	}
}

// profileLabel folds profiles past the cap into "other", and complain
// mode's learning children (P//null-/usr/bin/curl, named after a path)
// into P//null-: labels carry no path. Called with mu held.
func (s *state) profileLabel(p string) string {
	if p == "" {
		p = "unconfined"
	}
	if i := strings.Index(p, "//null-"); i >= 0 {
		p = p[:i+len("//null-")]
	}
	return bounded(s.profiles, s.opts.MaxProfiles, p)
}

// bounded returns v while the label values in use (seen) number fewer
// than max, or v is one of them; otherwise "other".
func bounded(seen map[string]struct{}, max int, v string) string {
	if _, ok := seen[v]; ok {
		return v
	}
	if len(seen) >= max {
		return otherProfile
	}
	seen[v] = struct{}{}
	return v
}

// observe counts one event and reports whether it is a denial whose
// signature was never seen before.
func (s *state) observe(o Observation) (isNew bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	profile := s.profileLabel(o.Profile)
	outcome := string(o.Outcome)
	if outcome == "" {
		outcome = "unknown"
	}
	class := string(o.Class)
	if class == "" {
		class = "unknown"
	}
	class = bounded(s.classes, s.opts.MaxClasses, class)
	s.events[eventKey{profile, class, outcome}]++
	if o.Outcome != auditlog.OutcomeDenied {
		return false
	}
	s.denials[denialKey{profile, bounded(s.operations, s.opts.MaxOperations, o.Operation), class}]++
	s.recent.add(o)
	sig := signature{o.Profile, o.Operation, PathPattern(o.Name)}
	if _, seen := s.signatures[sig]; seen {
		return false
	}
	if len(s.signatures) >= s.opts.MaxSignatures {
		// Forget everything rather than stop detecting: a burst of
		// "new" after the reset is better than silence.
		clear(s.signatures)
	}
	s.signatures[sig] = struct{}{}
	s.newDenials[profile]++
	return true
}

// PathPattern reduces a path to the shape that identifies a denial
// signature: components that are numbers (PIDs, fds), hex or UUID-like
// identifiers become "*", so /proc/123/status and /proc/456/status are
// one signature while a new file name is a new one.
func PathPattern(p string) string {
	if p == "" || !strings.ContainsAny(p, "0123456789") {
		return p
	}
	parts := strings.Split(p, "/")
	for i, c := range parts {
		if isVolatileComponent(c) {
			parts[i] = "*"
		}
	}
	return strings.Join(parts, "/")
}

func isVolatileComponent(c string) bool {
	if c == "" {
		return false
	}
	digits, hex := 0, 0
	for i := 0; i < len(c); i++ {
		switch b := c[i]; {
		case b >= '0' && b <= '9':
			digits++
		case b >= 'a' && b <= 'f', b >= 'A' && b <= 'F':
			hex++
		case b == '-':
		default:
			return false
		}
	}
	if digits == 0 {
		return false
	}
	// All digits (pid, fd) or a long hex/uuid identifier.
	return hex == 0 || len(c) >= 8
}
