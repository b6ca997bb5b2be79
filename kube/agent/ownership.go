package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/armorer-dev/armorer/internal/atomicfile"
)

// ownershipFile is the record, in the state directory, of the profiles
// this agent loaded. Only names in it are ever replaced or unloaded: a
// profile that is loaded but not recorded belongs to someone else.
const ownershipFile = "k8s-agent-owned.json"

// Owned is what the agent knows about one profile it loaded.
type Owned struct {
	Hash     string    `json:"sha256"` // the accepted version, in profiles/NAME
	Mode     string    `json:"mode"`
	LoadedAt time.Time `json:"loaded_at"`
	// Pending is set while a load is in progress: written before the
	// kernel is touched, so a crash in between never leaves a loaded
	// profile the record does not own.
	Pending string `json:"pending_sha256,omitempty"`
}

// Ownership is the record: profile name → what the agent loaded.
type Ownership struct {
	Version  int               `json:"version"`
	Profiles map[string]*Owned `json:"profiles"`

	saved []byte // what the file holds: an unchanged record is not rewritten
}

func loadOwnership(stateDir string) (*Ownership, error) {
	o := &Ownership{Version: 1, Profiles: map[string]*Owned{}}
	data, err := os.ReadFile(filepath.Join(stateDir, ownershipFile))
	if errors.Is(err, fs.ErrNotExist) {
		return o, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the ownership record: %w", err)
	}
	o.saved = data
	if err := json.Unmarshal(data, o); err != nil {
		return nil, fmt.Errorf("ownership record %s: %w (fix or remove it; until then the agent touches no profile)", filepath.Join(stateDir, ownershipFile), err)
	}
	if o.Profiles == nil {
		o.Profiles = map[string]*Owned{}
	}
	return o, nil
}

// save writes the record atomically (internal/atomicfile), without a
// backup: the record is rewritten on every change.
func (o *Ownership) save(stateDir string) error {
	data, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if bytes.Equal(data, o.saved) {
		return nil
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if _, err := atomicfile.WritePath(filepath.Join(stateDir, ownershipFile), data, 0o644, ""); err != nil {
		return fmt.Errorf("write the ownership record: %w", err)
	}
	o.saved = data
	return nil
}
