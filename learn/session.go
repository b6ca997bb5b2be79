package learn

import (
	"iter"

	"github.com/armorer-dev/armorer/auditlog"
	"github.com/armorer-dev/armorer/auditlog/source"
	"github.com/armorer-dev/armorer/host"
)

// SessionOptions configure one learning run over a profile directory:
// what armorer learn and armorer record do. The zero value of each knob
// is the documented default (--glob safe, --exec cx, abi 3.0, …).
type SessionOptions struct {
	// Dir is the profile directory; Include the include search path
	// (default: Dir).
	Dir     string
	Include []string
	// Options are the learning knobs; WithProfiles completes them from
	// the profile directory.
	Options Options
	// Abstractions names the candidate abstractions (nil:
	// DefaultAbstractions; "all": every abstraction of the search path).
	Abstractions []string
	// Profile, when set, learns only the events of that profile, its
	// children and hats, and stacks that contain it.
	Profile string
	// Merge says how the learned rules go into files.
	Merge MergeOptions
	// Warn receives problems that do not stop learning (unreadable
	// profiles, coverage failures). Nil drops them.
	Warn func(error)
}

// Session is a profile directory loaded for learning.
type Session struct {
	opts     SessionOptions
	Profiles *host.ProfileSet
}

// OpenSession loads the profile directory (its problems go to Warn).
func OpenSession(opts SessionOptions) (*Session, error) {
	if opts.Warn == nil {
		opts.Warn = func(error) {}
	}
	pol, err := host.LoadProfileSet(opts.Dir, opts.Include...)
	if err != nil {
		return nil, err
	}
	for _, p := range pol.Problems {
		opts.Warn(p)
	}
	return &Session{opts: opts, Profiles: pol}, nil
}

// SessionResult is what a session learned.
type SessionResult struct {
	Events   int        // events of the profile read (all events without SessionOptions.Profile)
	Profiles []*Profile // the learned profiles, with their findings
	Findings []Finding  // every profile's findings: accesses held back for a human
	Changes  []Change   // the files to write, sorted by path
}

// Learn turns the events into rules and merges them into the profile
// directory's files, in memory: the caller previews or writes Changes.
func (s *Session) Learn(events iter.Seq[*source.Event]) (*SessionResult, error) {
	abstractions := s.opts.Abstractions
	if len(abstractions) == 1 && abstractions[0] == "all" {
		abstractions = s.Profiles.AbstractionNames()
	}
	l := New(WithProfiles(s.opts.Options, s.Profiles, abstractions, s.opts.Warn))
	res := &SessionResult{}
	var a Access
	var m Mapper
	for ev := range events {
		if s.opts.Profile != "" && !auditlog.LabelMatches(string(ev.Label()), s.opts.Profile) {
			continue
		}
		res.Events++
		if m.Map(ev.Event, ev.Source, ev.Line(), &a) {
			l.Add(&a)
		}
	}
	profiles, err := l.Result()
	if err != nil {
		return nil, err
	}
	res.Profiles = profiles
	for _, p := range profiles {
		res.Findings = append(res.Findings, p.Findings...)
	}
	if res.Changes, err = Merge(s.Profiles, profiles, s.opts.Merge); err != nil {
		return nil, err
	}
	return res, nil
}
