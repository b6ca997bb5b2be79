package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"

	"github.com/armorer-dev/armorer/auditlog/source"
	"github.com/armorer-dev/armorer/internal/atomicfile"
)

// positions is where each source stood after the last event counted: what
// a restarted monitor resumes from (file offset and inode, kmsg sequence
// and boot ID, journal cursor), so the events written while it was down
// are counted, and those the kernel overwrote meanwhile count as lost.
type positions struct {
	path  string // "": not kept
	mu    sync.Mutex
	pos   map[string]source.Position
	dirty bool
}

// positionsFile is the JSON form: one Position per SOURCE.
type positionsFile struct {
	Sources map[string]source.Position `json:"sources"`
}

func loadPositions(path string) (*positions, error) {
	p := &positions{path: path, pos: map[string]source.Position{}}
	if path == "" {
		return p, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("read source positions: %w", err)
	}
	var f positionsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return p, fmt.Errorf("read source positions %s: %w (starting without them)", path, err)
	}
	maps.Copy(p.pos, f.Sources)
	return p, nil
}

// resume is the pipeline's Options.Resume.
func (p *positions) resume() map[string]*source.Position {
	out := map[string]*source.Position{}
	for spec, pos := range p.pos {
		out[spec] = &pos
	}
	return out
}

func (p *positions) set(spec string, pos source.Position) {
	if p.path == "" || spec == "" {
		return
	}
	p.mu.Lock()
	p.pos[spec], p.dirty = pos, true
	p.mu.Unlock()
}

// save writes the positions when they changed since the last save
// (callers throttle it: once a second, and at the end).
func (p *positions) save() error {
	p.mu.Lock()
	if !p.dirty {
		p.mu.Unlock()
		return nil
	}
	b, err := json.MarshalIndent(positionsFile{Sources: maps.Clone(p.pos)}, "", "  ")
	p.dirty = false
	p.mu.Unlock()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p.path), 0o700); err != nil {
		return fmt.Errorf("save source positions: %w", err)
	}
	if _, err := atomicfile.WritePath(p.path, append(b, '\n'), 0o600, ""); err != nil {
		p.mu.Lock()
		p.dirty = true
		p.mu.Unlock()
		return fmt.Errorf("save source positions: %w", err)
	}
	return nil
}
