package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// dataLink is the symlink kubelet's atomic writer swaps on every update
// of a ConfigMap volume: ..data → ..2026_12_03_05_36_29.123456789, and
// each key is a symlink KEY → ..data/KEY. An update writes a new
// timestamped directory, points a new ..data_tmp at it and renames that
// over ..data, so one rename switches every key at once.
const dataLink = "..data"

// maxProfileSize bounds one key: a ConfigMap holds at most 1 MiB in all.
const maxProfileSize = 1 << 20

// Snapshot is one consistent reading of the profiles volume.
type Snapshot struct {
	// Version is the directory ..data pointed to (the atomic writer's
	// timestamped directory), or "" for a plain directory.
	Version string
	// Profiles maps each key (a profile name) to its content.
	Profiles map[string][]byte
}

// Hash is the hex SHA-256 of a profile's content, the version the agent
// records and reports.
func Hash(content []byte) string {
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:])
}

// ReadVolume reads the profiles in dir. When dir is a ConfigMap volume
// (it has ..data), everything is read from the one timestamped directory
// ..data points to, so a swap in the middle of the read cannot mix two
// versions; if kubelet removes that directory while we read, the read is
// retried from the new ..data. A plain directory is read as it is. Keys
// starting with '.' are not keys (the atomic writer's own entries).
func ReadVolume(dir string) (*Snapshot, error) {
	var lastErr error
	for range 5 {
		snap, err := readVolumeOnce(dir)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return snap, err
		}
		lastErr = err // swapped and cleaned up under us: read the new version
	}
	return nil, lastErr
}

func readVolumeOnce(dir string) (*Snapshot, error) {
	snap := &Snapshot{Profiles: map[string][]byte{}}
	readDir := dir
	target, err := os.Readlink(filepath.Join(dir, dataLink))
	switch {
	case err == nil:
		if strings.Contains(target, "/") || !strings.HasPrefix(target, "..") {
			return nil, fmt.Errorf("profiles volume %s: %s points to %q, not to a directory beside it as kubelet writes it", dir, dataLink, target)
		}
		snap.Version = target
		readDir = filepath.Join(dir, target)
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("profiles volume: %w", err)
		}
	default:
		return nil, fmt.Errorf("profiles volume %s: %w", dir, err)
	}
	root, err := os.OpenRoot(readDir)
	if err != nil {
		return nil, fmt.Errorf("profiles volume: %w", err)
	}
	defer root.Close()
	ents, err := os.ReadDir(readDir)
	if err != nil {
		return nil, fmt.Errorf("profiles volume: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		data, err := readKey(root, name)
		if errors.Is(err, errNotFile) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("profiles volume %s: %w", filepath.Join(readDir, name), err)
		}
		snap.Profiles[name] = data
	}
	return snap, nil
}

var errNotFile = errors.New("not a regular file")

// readKey reads one key through root: a symlink may only resolve inside
// the volume, so a key cannot make the agent read a host file.
func readKey(root *os.Root, name string) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotFile
	}
	data, err := io.ReadAll(io.LimitReader(f, maxProfileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxProfileSize {
		return nil, fmt.Errorf("larger than %d KiB; a ConfigMap holds at most 1 MiB", maxProfileSize>>10)
	}
	return data, nil
}

// Names returns the snapshot's keys, sorted.
func (s *Snapshot) Names() []string {
	names := make([]string, 0, len(s.Profiles))
	for n := range s.Profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
