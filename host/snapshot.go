package host

import (
	"crypto/sha256"
	"slices"
)

// Snapshot is what a check of a profile file saw: the content of the
// file and of every file its compilation reads (its include closure: the
// local/ overrides, abstractions, tunables), by path. Enforce's gate takes
// one before it checks; SetMode compares it under the directory's lock, so
// a write to any of those files in between is refused, not enforced
// unchecked.
type Snapshot struct {
	file, base string
	searchPath []string
	sums       map[string][sha256.Size]byte
}

// TakeSnapshot reads file and its include closure, resolving includes as a
// ProfileSet on base with searchPath does (OpenProfileSet).
func TakeSnapshot(file, base string, searchPath ...string) (*Snapshot, error) {
	s := &Snapshot{file: file, base: base, searchPath: slices.Clone(searchPath)}
	sums, err := s.read()
	if err != nil {
		return nil, err
	}
	s.sums = sums
	return s, nil
}

// read hashes the closure of s.file as it is now. Includes that cannot be
// read are left out: a file that appears later changes the closure.
func (s *Snapshot) read() (map[string][sha256.Size]byte, error) {
	l := OpenProfileSet(s.base, s.searchPath...).Loader
	f, err := l.Load(s.file, nil)
	if f == nil {
		return nil, err
	}
	files, _ := l.Closure(f)
	sums := make(map[string][sha256.Size]byte, len(files))
	for _, g := range files {
		sums[g.Name] = sha256.Sum256(l.Source(g.Name))
	}
	return sums, nil
}

// Changed returns the first file, by name, whose content is not the one
// the snapshot saw, that the closure no longer reaches, or that it reaches
// now and did not then; "" when nothing changed.
func (s *Snapshot) Changed() (string, error) {
	now, err := s.read()
	if err != nil {
		return "", err
	}
	var changed []string
	for name, sum := range s.sums {
		if got, ok := now[name]; !ok || got != sum {
			changed = append(changed, name)
		}
	}
	for name := range now {
		if _, ok := s.sums[name]; !ok {
			changed = append(changed, name)
		}
	}
	if len(changed) == 0 {
		return "", nil
	}
	return slices.Min(changed), nil
}
