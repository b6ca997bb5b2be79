package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/kube"
	"github.com/armorer-dev/armorer/policy"
)

// Defaults of Config.
const (
	DefaultStateDir = host.DefaultStateDir
	DefaultIncludes = host.DefaultProfileDir
	DefaultResync   = time.Minute
)

// Config says where the agent reads and writes.
type Config struct {
	// ProfilesDir is the mounted profiles ConfigMap (or a plain
	// directory): one key per profile, the key being the profile's name.
	ProfilesDir string
	// StateDir holds the ownership record, the accepted profile files
	// (StateDir/profiles), staged copies and backups. Never a directory
	// AppArmor loads at boot.
	StateDir string
	// Includes is the search path for tunables and abstractions (-I and
	// --base of apparmor_parser), normally the host's /etc/apparmor.d
	// mounted read-only; its profiles are the distribution's, which the
	// agent refuses to replace.
	Includes string
	// Resync is how often the agent reconciles without a change of the
	// volume (a safety net for missed events and a node whose kernel
	// state changed under it).
	Resync time.Duration
	// AllowAttachments accepts profiles with a path attachment
	// ("profile x /usr/bin/** {…}"), which confine the host's processes
	// that match it on every node. Without it such a profile is invalid:
	// containers are attached by name (localhostProfile).
	AllowAttachments bool
	// Host gives securityfs, /proc and the apparmor_parser program;
	// ProfileDir, StateDir and ParserArgs are set by the agent.
	Host   host.Paths
	Logger *slog.Logger
}

// Agent converges the kernel's profiles towards the profiles volume.
// Reconcile is level-triggered and idempotent; Run calls it on every
// ..data swap and every Resync.
type Agent struct {
	cfg       Config
	host      *host.Host
	log       *slog.Logger
	minTarget policy.Version

	// only the reconcile goroutine touches these
	invalid map[string]invalidVersion // name → the version refused by validation, and why
	logged  map[string]string         // name → the last problem logged for it

	// afterReconcile, when set, sees each reconcile's status (the node
	// label).
	afterReconcile func(context.Context, Status)

	// complain is the set of owned profiles loaded in complain mode, for
	// the event keeper (read per event, without the lock).
	complain atomic.Pointer[map[string]bool]

	mu     sync.Mutex
	status Status
	// reconciled is closed after the first reconcile.
	reconciled     chan struct{}
	reconciledOnce sync.Once
	reconciles     map[string]float64 // result → count
}

type invalidVersion struct{ hash, err string }

// New returns an agent for cfg; empty fields take their defaults.
func New(cfg Config) *Agent {
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir
	}
	if cfg.Includes == "" {
		cfg.Includes = DefaultIncludes
	}
	if cfg.Resync <= 0 {
		cfg.Resync = DefaultResync
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	paths := cfg.Host
	paths.ProfileDir = filepath.Join(cfg.StateDir, "profiles")
	paths.StateDir = cfg.StateDir
	paths.ParserArgs = append(slices.Clip(paths.ParserArgs), "-I", cfg.Includes, "--base", cfg.Includes)
	h := host.New(paths, cfg.Logger)
	if feat := filepath.Join(h.Paths.SecurityFS, "apparmor", "features"); isDir(feat) {
		// Compile against this node's kernel, not the image's idea of it.
		h.Parser.Args = append(h.Parser.Args, "--kernel-features", feat)
	}
	return &Agent{
		cfg:        cfg,
		host:       h,
		log:        cfg.Logger,
		invalid:    map[string]invalidVersion{},
		logged:     map[string]string{},
		reconciled: make(chan struct{}),
		reconciles: map[string]float64{},
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// Host is the agent's view of the node's AppArmor (its profile directory
// is the state directory's profiles/).
func (a *Agent) Host() *host.Host { return a.host }

// State values of ProfileStatus.
const (
	StateLoaded  = "loaded"  // the desired version is loaded
	StateInvalid = "invalid" // the desired version failed validation; an older one may stay loaded
	StateRefused = "refused" // the name belongs to the distribution, a runtime or someone else
	StateFailed  = "failed"  // the kernel rejected the load; the previous state was restored
	StateInUse   = "in-use"  // removed from the ConfigMap, kept loaded: it still confines processes
)

// ProfileStatus is one profile in /status.
type ProfileStatus struct {
	Name        string `json:"name"`
	State       string `json:"state"`
	Desired     bool   `json:"desired"`                  // in the ConfigMap
	DesiredHash string `json:"desired_sha256,omitempty"` // of the ConfigMap's version
	DesiredMode string `json:"desired_mode,omitempty"`
	// Loaded: the kernel has a version the agent loaded; LoadedHash is it.
	Loaded     bool   `json:"loaded"`
	LoadedHash string `json:"loaded_sha256,omitempty"`
	Mode       string `json:"mode,omitempty"` // the kernel's mode
	Error      string `json:"error,omitempty"`
	Confining  int    `json:"confined_processes,omitempty"`
}

// Current reports whether the desired version is what the kernel runs.
func (p ProfileStatus) Current() bool {
	return p.Desired && p.Loaded && p.LoadedHash == p.DesiredHash && p.Error == ""
}

// Status is the agent's last reconcile, as /status serves it.
type Status struct {
	Ready bool `json:"ready"`
	// NotReady says why not, when not ready.
	NotReady      string          `json:"not_ready,omitempty"`
	Version       string          `json:"volume_version,omitempty"` // the ..data directory
	LastReconcile time.Time       `json:"last_reconcile"`
	Error         string          `json:"error,omitempty"` // a reconcile that could not run
	Profiles      []ProfileStatus `json:"profiles"`
	// LoadedSetHash identifies the set of loaded owned profiles and their
	// versions (for a node label, so workloads can select nodes).
	LoadedSetHash string `json:"loaded_set_sha256"`
}

// Status returns the last reconcile's status.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.status
	st.Profiles = slices.Clone(st.Profiles)
	return st
}

// Reconcile reads the volume and converges the kernel towards it: every
// valid desired profile loaded in its mode, every owned profile that left
// the volume unloaded unless it still confines processes. One bad profile
// never stops the others. The error is for a reconcile that could not
// run at all (unreadable volume or state); per-profile problems are in
// Status.
func (a *Agent) Reconcile(ctx context.Context) error {
	st, err := a.reconcile(ctx)
	now := time.Now().UTC()
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.reconciles["error"]++
		// Keep the last known profiles; readiness needs a good reconcile.
		a.status.Error = err.Error()
		a.status.LastReconcile = now
		a.status.Ready = false
		a.status.NotReady = "reconcile failed: " + err.Error()
		return err
	}
	a.reconciles["ok"]++
	st.LastReconcile = now
	complain := map[string]bool{}
	for _, p := range st.Profiles {
		if p.Loaded && p.Mode == "complain" {
			complain[p.Name] = true
		}
	}
	a.complain.Store(&complain)
	a.status = st
	a.reconciledOnce.Do(func() { close(a.reconciled) })
	return nil
}

func (a *Agent) reconcile(ctx context.Context) (Status, error) {
	snap, err := ReadVolume(a.cfg.ProfilesDir)
	if err != nil {
		return Status{}, err
	}
	own, err := loadOwnership(a.cfg.StateDir)
	if err != nil {
		return Status{}, err
	}
	if err := os.MkdirAll(a.host.Paths.ProfileDir, 0o755); err != nil {
		return Status{}, fmt.Errorf("state directory: %w", err)
	}
	kernel, err := a.kernel()
	if err != nil {
		return Status{}, err
	}
	if a.minTarget.IsZero() {
		a.minTarget = a.host.Parser.LanguageVersion(ctx)
	}
	distro := sync.OnceValue(a.distroNames) // parsed only if a new name needs it
	l := policy.NewLoader(a.cfg.Includes)
	l.Base = a.cfg.Includes

	st := Status{Version: snap.Version, Profiles: []ProfileStatus{}}
	for _, name := range snap.Names() {
		ps := a.reconcileOne(ctx, l, own, kernel, distro, name, snap.Profiles[name])
		st.Profiles = append(st.Profiles, ps)
	}
	// Owned profiles that left the volume.
	for _, name := range slices.Sorted(maps.Keys(own.Profiles)) {
		if _, desired := snap.Profiles[name]; desired {
			continue
		}
		if ps, keep := a.remove(ctx, own, kernel, name); keep {
			st.Profiles = append(st.Profiles, ps)
		}
	}
	if err := own.save(a.cfg.StateDir); err != nil {
		return Status{}, err
	}
	// Report the kernel as it is now.
	if kernel, err = a.kernel(); err != nil {
		return Status{}, err
	}
	var notReady []string
	for i := range st.Profiles {
		ps := &st.Profiles[i]
		mode, inKernel := kernel[ps.Name]
		o := own.Profiles[ps.Name]
		ps.Loaded = inKernel && o != nil && ps.State != StateRefused
		if ps.Loaded {
			ps.Mode = mode
			ps.LoadedHash = o.Hash
		} else {
			ps.LoadedHash = ""
		}
		if ps.Desired && !ps.Loaded {
			notReady = append(notReady, ps.Name+" ("+ps.State+")")
		}
	}
	st.Ready = len(notReady) == 0
	if !st.Ready {
		st.NotReady = "not loaded: " + strings.Join(notReady, ", ")
	}
	st.LoadedSetHash = loadedSetHash(st.Profiles)
	return st, nil
}

// reconcileOne converges one desired profile.
func (a *Agent) reconcileOne(ctx context.Context, l *policy.Loader, own *Ownership, kernel map[string]string, distro func() map[string]bool, name string, content []byte) ProfileStatus {
	hash := Hash(content)
	ps := ProfileStatus{Name: name, Desired: true, DesiredHash: hash}
	refuse := func(why string) ProfileStatus {
		ps.State, ps.Error = StateRefused, fmt.Sprintf("refused %s: %s", name, why)
		a.logOnce(name, hash, ps.Error)
		return ps
	}
	if err := kube.CheckProfileName(name); err != nil {
		return refuse(err.Error())
	}
	o := own.Profiles[name]
	if o == nil {
		if why := a.reserved(name, distro()); why != "" {
			return refuse(why)
		}
		if _, loaded := kernel[name]; loaded {
			return refuse("a profile of that name is loaded, but not by this agent (it is not in " + filepath.Join(a.cfg.StateDir, ownershipFile) + ")")
		}
	}
	_, inKernel := kernel[name]
	// Unchanged and loaded as wanted: nothing to do (and nothing to compile).
	if o != nil && o.Hash == hash && o.Pending == "" && inKernel && (o.Mode == "" || kernel[name] == o.Mode) {
		ps.State, ps.DesiredMode = StateLoaded, o.Mode
		return ps
	}
	if bad, ok := a.invalid[name]; ok && bad.hash == hash {
		ps.State, ps.Error = StateInvalid, bad.err
		a.restoreAccepted(ctx, own, kernel, name)
		return ps
	}
	v, err := a.validate(ctx, l, name, content)
	var inv *invalidError
	switch {
	case errors.As(err, &inv):
		ps.State, ps.Error = StateInvalid, fmt.Sprintf("%s: %v; the previously loaded version (if any) stays loaded", name, err)
		a.invalid[name] = invalidVersion{hash, ps.Error}
		a.log.Warn("invalid profile skipped", "profile", name, "sha256", hash, "err", err)
		a.restoreAccepted(ctx, own, kernel, name)
		return ps
	case err != nil: // the environment, not the profile: retried next time
		ps.State, ps.Error = StateFailed, fmt.Sprintf("validate %s: %v", name, err)
		a.log.Error("validation could not run", "profile", name, "err", err)
		return ps
	}
	delete(a.invalid, name)
	defer os.Remove(v.staged)
	ps.DesiredMode = string(v.mode)
	if err := a.load(ctx, own, name, hash, v); err != nil {
		ps.State, ps.Error = StateFailed, fmt.Sprintf("load %s: %v", name, err)
		a.log.Error("load failed", "profile", name, "err", err)
		return ps
	}
	ps.State = StateLoaded
	return ps
}

// load records the intent, loads the staged version into the kernel
// through host (written to StateDir/profiles, the previous version
// restored if the kernel rejects it), and records the result.
func (a *Agent) load(ctx context.Context, own *Ownership, name, hash string, v *validated) error {
	prev := own.Profiles[name]
	entry := &Owned{Pending: hash}
	if prev != nil {
		e := *prev
		entry = &e
		entry.Pending = hash
	}
	own.Profiles[name] = entry
	if err := own.save(a.cfg.StateDir); err != nil {
		own.Profiles[name] = prev
		return err
	}
	res, err := a.host.Load(ctx, host.ProfileFile{Name: name, Source: v.staged}, false, nil)
	if err != nil {
		if prev == nil {
			if k, kerr := a.kernel(); kerr == nil {
				if _, loaded := k[name]; !loaded {
					delete(own.Profiles, name) // nothing of ours is left in the kernel
					return err
				}
			}
		}
		entry.Pending = ""
		return err
	}
	mode := string(res.Mode)
	if mode == "" {
		mode = string(v.mode)
	}
	own.Profiles[name] = &Owned{Hash: hash, Mode: mode, LoadedAt: time.Now().UTC()}
	a.log.Info("profile "+res.Action, "profile", name, "sha256", hash, "mode", mode)
	return nil
}

// restoreAccepted reloads the last version the agent accepted for name
// when the kernel lost it (a node reboot) and the ConfigMap's version is
// invalid: the node keeps the last known good profile.
func (a *Agent) restoreAccepted(ctx context.Context, own *Ownership, kernel map[string]string, name string) {
	o := own.Profiles[name]
	if o == nil || o.Hash == "" {
		return
	}
	if _, loaded := kernel[name]; loaded {
		return
	}
	if _, err := a.host.Load(ctx, host.ProfileFile{Name: name}, false, nil); err != nil {
		a.log.Error("reload of the last accepted version failed", "profile", name, "err", err)
		return
	}
	a.log.Info("reloaded the last accepted version", "profile", name, "sha256", o.Hash)
}

// remove unloads an owned profile that left the volume, unless it still
// confines processes (then it stays, and is reported: keep is true).
func (a *Agent) remove(ctx context.Context, own *Ownership, kernel map[string]string, name string) (ps ProfileStatus, keep bool) {
	ps = ProfileStatus{Name: name}
	if _, loaded := kernel[name]; loaded {
		var err error
		if _, statErr := os.Stat(a.host.Path(host.ProfileFile{Name: name})); statErr == nil {
			_, err = a.host.Unload(ctx, host.ProfileFile{Name: name}, false)
		} else {
			_, err = a.host.UnloadName(ctx, name, false)
		}
		var inUse *host.InUseError
		switch {
		case errors.As(err, &inUse):
			ps.State, ps.Confining = StateInUse, len(inUse.Procs)
			ps.Error = fmt.Sprintf("%s was removed from the ConfigMap but still confines %d process(es); it stays loaded until they exit", name, len(inUse.Procs))
			a.logOnce(name, "in-use", ps.Error)
			return ps, true
		case err != nil:
			ps.State, ps.Error = StateFailed, fmt.Sprintf("unload %s: %v", name, err)
			a.log.Error("unload failed", "profile", name, "err", err)
			return ps, true
		}
		a.log.Info("profile unloaded", "profile", name)
	}
	root, err := os.OpenRoot(a.host.Paths.ProfileDir)
	if err == nil {
		if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			a.log.Warn("could not remove the accepted file", "profile", name, "err", err)
		}
		root.Close()
	}
	delete(own.Profiles, name)
	delete(a.invalid, name)
	delete(a.logged, name)
	return ps, false
}

// kernel reads the loaded profiles (securityfs apparmor/profiles): name
// → mode. It is host.LoadedProfiles without the attachments, which parse
// every profile file and are not needed here.
func (a *Agent) kernel() (map[string]string, error) {
	name := filepath.Join(a.host.Paths.SecurityFS, "apparmor", "profiles")
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read loaded profiles: %w", err)
	}
	m := map[string]string{}
	for line := range strings.Lines(string(data)) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		n, mode, err := host.ParseLabel(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		m[n] = string(mode)
	}
	return m, nil
}

// logOnce logs msg for (name, key) once per change, so a refused
// profile does not log every resync.
func (a *Agent) logOnce(name, key, msg string) {
	if a.logged[name] == key {
		return
	}
	a.logged[name] = key
	a.log.Warn(msg, "profile", name)
}

// loadedSetHash identifies the loaded owned profiles and their versions.
func loadedSetHash(ps []ProfileStatus) string {
	var b strings.Builder
	for _, p := range ps {
		if p.Loaded {
			fmt.Fprintf(&b, "%s %s %s\n", p.Name, p.LoadedHash, p.Mode)
		}
	}
	return Hash([]byte(b.String()))
}
