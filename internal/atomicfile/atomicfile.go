// Package atomicfile is the one way armorer writes a file: the new content
// goes to a temporary file in the same directory, is synced, and is renamed
// over the target; then the directory is synced. The previous version is
// copied into a backup directory (under armorer's state directory), never
// left beside the target, so loaders that read every file of a directory
// (apparmor_parser on /etc/apparmor.d) never see it.
//
// Temporary files start with '.', which AppArmor's loader skips, so a crash
// between creating and renaming one leaves nothing the loader would read.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// KeepBackups is how many previous versions of one file are kept by
// default.
const KeepBackups = 10

// Retention says which backups of a file a write keeps: the newest Keep
// (at least one), and of those only the ones younger than MaxAge (zero:
// any age). The newest backup is always kept: it is what a rollback of
// the write just made restores.
type Retention struct {
	Keep   int
	MaxAge time.Duration
}

// BackupRetention is the retention writes apply; armorer's CLI sets it
// from ARMORER_BACKUP_KEEP and ARMORER_BACKUP_MAX_AGE.
var BackupRetention = Retention{Keep: KeepBackups, MaxAge: 90 * 24 * time.Hour}

// StaleTemp is how old a temporary file of a writer whose process cannot
// be identified must be before the next write removes it.
const StaleTemp = time.Minute

// staleOwned is how old a temporary file of a writer that seems to run
// must be before it is removed anyway: its pid was given to another
// process.
const staleOwned = 24 * time.Hour

// Backup records the version of a file that a write replaced.
type Backup struct {
	// Target is the file that was written (root directory joined with name).
	Target string
	// Path is where the previous content was saved; empty when the target
	// did not exist before the write.
	Path string

	root    *os.Root
	name    string
	mode    fs.FileMode
	owner   *owner
	existed bool
}

// Existed reports whether the target existed before the write.
func (b *Backup) Existed() bool { return b.existed }

// Restore puts the previous version back, atomically; if the target did
// not exist before, it removes it. Without a backup directory there is no
// previous version to put back: Restore then fails.
func (b *Backup) Restore() error {
	if b.existed && b.Path == "" {
		return fmt.Errorf("restore %s: no copy of the previous version was kept", b.Target)
	}
	if !b.existed {
		if err := b.root.Remove(b.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore %s: remove the new file: %w", b.Target, err)
		}
		return syncDir(b.root, path.Dir(b.name))
	}
	data, err := os.ReadFile(b.Path)
	if err != nil {
		return fmt.Errorf("restore %s from %s: %w", b.Target, b.Path, err)
	}
	if err := replace(b.root, b.name, data, b.mode, b.owner); err != nil {
		return fmt.Errorf("restore %s from %s: %w", b.Target, b.Path, err)
	}
	return nil
}

type owner struct{ uid, gid int }

// WriteFile replaces name, inside root, with data. name is resolved by the
// root, so "../" and absolute symlinks cannot escape it. An existing file
// keeps its permission bits and owner; a new one gets perm. When backupDir
// is not empty and the file existed, its previous content is first saved
// under backupDir (see BackupPath) and the returned Backup can restore it.
//
// If anything fails after the rename, the previous version is restored and
// the error says where its backup is.
func WriteFile(root *os.Root, name string, data []byte, perm fs.FileMode, backupDir string) (*Backup, error) {
	name = path.Clean(filepath.ToSlash(name))
	target := filepath.Join(root.Name(), filepath.FromSlash(name))
	if err := begin(); err != nil {
		return nil, fmt.Errorf("write %s: %w", target, err)
	}
	defer end()
	name, err := resolve(root, name)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", target, err)
	}
	target = filepath.Join(root.Name(), filepath.FromSlash(name))
	b := &Backup{Target: target, root: root, name: name, mode: perm.Perm()}
	removeStaleTemps(root, path.Dir(name))

	fi, err := root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("write %s: %w", target, err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("write %s: not a regular file", target)
	default:
		b.existed = true
		b.mode = fi.Mode().Perm()
		b.owner = ownerOf(fi)
		if backupDir != "" {
			old, err := root.ReadFile(name)
			if err != nil {
				return nil, fmt.Errorf("write %s: read the previous version: %w", target, err)
			}
			if b.Path, err = saveBackup(backupDir, target, old); err != nil {
				return nil, fmt.Errorf("write %s: keep the previous version: %w", target, err)
			}
		}
	}

	if err := replace(root, name, data, b.mode, b.owner); err != nil {
		var late *afterRenameError
		if errors.As(err, &late) {
			if b.existed && b.Path == "" {
				return nil, fmt.Errorf("write %s: %w; the new version is in place but may not survive a crash (no backup was kept)", target, err)
			}
			rerr := b.Restore()
			switch {
			case b.Path == "" && rerr != nil:
				return nil, fmt.Errorf("write %s: %w; removing the new file also failed: %v", target, err, rerr)
			case b.Path == "":
				return nil, fmt.Errorf("write %s: %w; the new file was removed", target, err)
			case rerr != nil:
				return nil, fmt.Errorf("write %s: %w; restoring the previous version also failed (%v): it is kept in %s", target, err, rerr, b.Path)
			}
			return nil, fmt.Errorf("write %s: %w; the previous version was restored (a copy is kept in %s)", target, err, b.Path)
		}
		return nil, fmt.Errorf("write %s: %w", target, err)
	}
	return b, nil
}

// resolve follows name while it is a symbolic link, the way a loader
// reading it would, and returns the file inside root it ends at (which
// may not exist yet). A link, or a directory on the way, that leads out
// of root is an error: a write never lands outside the root.
func resolve(root *os.Root, name string) (string, error) {
	rootAbs, err := filepath.Abs(root.Name())
	if err != nil {
		return "", err
	}
	for range 40 {
		fi, err := root.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) {
			return name, nil
		}
		if err != nil {
			return "", fmt.Errorf("%w (a directory on the way leads outside %s?)", err, root.Name())
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return name, nil
		}
		to, err := root.Readlink(name)
		if err != nil {
			return "", err
		}
		next := path.Join(path.Dir(name), filepath.ToSlash(to))
		if filepath.IsAbs(to) {
			rel, err := filepath.Rel(rootAbs, to)
			if err != nil {
				return "", err
			}
			next = filepath.ToSlash(rel)
		}
		if next = path.Clean(next); next == ".." || strings.HasPrefix(next, "../") {
			return "", fmt.Errorf("it is a symbolic link to %s, outside %s: not written through", to, root.Name())
		}
		name = next
	}
	return "", errors.New("too many levels of symbolic links")
}

// WritePath is WriteFile for a path: the root is the path's directory.
func WritePath(name string, data []byte, perm fs.FileMode, backupDir string) (*Backup, error) {
	root, err := os.OpenRoot(filepath.Dir(name))
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	defer root.Close()
	return WriteFile(root, filepath.Base(name), data, perm, backupDir)
}

// afterRenameError marks a failure after the new content became visible.
type afterRenameError struct{ err error }

func (e *afterRenameError) Error() string { return e.err.Error() }
func (e *afterRenameError) Unwrap() error { return e.err }

// Hooks let tests inject failures at each step for a given target name;
// nil means "no failure".
var hooks struct {
	write, sync, rename, syncDir func(name string) error
}

func fail(h func(string) error, name string) error {
	if h == nil {
		return nil
	}
	return h(name)
}

// replace writes data to a temporary file beside name, syncs it, renames it
// over name and syncs the directory.
func replace(root *os.Root, name string, data []byte, mode fs.FileMode, own *owner) (err error) {
	dir, base := path.Split(name)
	tmpName, f, err := createTemp(root, dir, base)
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		if !renamed {
			f.Close()
			root.Remove(tmpName)
		}
	}()
	if err := fail(hooks.write, name); err != nil {
		return fmt.Errorf("write temporary file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write temporary file: %w", err)
	}
	// Chmod after creation: the umask must not narrow the previous mode.
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("set mode: %w", err)
	}
	if own != nil && (own.uid != os.Getuid() || own.gid != os.Getgid()) {
		if err := f.Chown(own.uid, own.gid); err != nil {
			return fmt.Errorf("keep owner %d:%d: %w", own.uid, own.gid, err)
		}
	}
	if err := fail(hooks.sync, name); err != nil {
		return fmt.Errorf("sync temporary file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync temporary file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close temporary file: %w", err)
	}
	if err := fail(hooks.rename, name); err != nil {
		return fmt.Errorf("rename into place: %w", err)
	}
	if err := root.Rename(tmpName, name); err != nil {
		return fmt.Errorf("rename into place: %w", err)
	}
	renamed = true
	if err := fail(hooks.syncDir, name); err != nil {
		return &afterRenameError{fmt.Errorf("sync directory: %w", err)}
	}
	if err := syncDir(root, dir); err != nil {
		return &afterRenameError{err}
	}
	return nil
}

func createTemp(root *os.Root, dir, base string) (string, *os.File, error) {
	for range 10 {
		name := TempName(dir, base, "")
		f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("create temporary file: %w", err)
		}
		return name, f, nil
	}
	return "", nil, errors.New("create temporary file: too many collisions")
}

func syncDir(root *os.Root, dir string) error {
	if dir == "" {
		dir = "."
	}
	d, err := root.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// BackupPath is the directory that holds the backups of target: the
// target's absolute path below backupDir, so /etc/apparmor.d/myapp is kept
// in backupDir/etc/apparmor.d/myapp/<UTC timestamp>.
func BackupPath(backupDir, target string) string {
	abs, err := filepath.Abs(target)
	if err != nil {
		abs = target
	}
	return filepath.Join(backupDir, strings.TrimPrefix(filepath.Clean(abs), string(filepath.Separator)))
}

// Backups lists the saved versions of target, oldest first.
func Backups(backupDir, target string) ([]string, error) {
	dir := BackupPath(backupDir, target)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(out) // timestamps sort by time
	return out, nil
}

func saveBackup(backupDir, target string, data []byte) (string, error) {
	dir := BackupPath(backupDir, target)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	name := time.Now().UTC().Format("20060102T150405.000000000Z")
	if err := replace(root, name, data, 0o600, nil); err != nil {
		return "", err
	}
	prune(backupDir, target)
	return filepath.Join(dir, name), nil
}

// prune applies BackupRetention to target's backups; failing to prune is
// harmless.
func prune(backupDir, target string) {
	all, err := Backups(backupDir, target)
	if err != nil || len(all) == 0 {
		return
	}
	r := BackupRetention
	keep := max(r.Keep, 1)
	for i, p := range all[:len(all)-1] { // the newest stays
		old := len(all)-i > keep
		if !old && r.MaxAge > 0 {
			if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > r.MaxAge {
				old = true
			}
		}
		if old {
			os.Remove(p)
		}
	}
}

// tempMarker is in every temporary file's name: "." + base + tempMarker +
// owner pid + "-" + random.
const tempMarker = ".armorer-"

// TempName is the name of a new temporary file for base in dir, with the
// writer's pid so a later write can tell whether its owner still runs.
func TempName(dir, base, kind string) string {
	var r [6]byte
	rand.Read(r[:])
	return path.Join(dir, "."+base+tempMarker+kind+strconv.Itoa(os.Getpid())+"-"+hex.EncodeToString(r[:]))
}

// removeStaleTemps removes the temporary files armorer writers left in dir
// of root when they were killed (SIGKILL, power loss): those whose owner
// process is gone, or, when the owner cannot be told, older than
// StaleTemp. A running writer's files stay. Failing is harmless.
func removeStaleTemps(root *os.Root, dir string) {
	if dir == "" {
		dir = "."
	}
	d, err := root.Open(dir)
	if err != nil {
		return
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		i := strings.Index(name, tempMarker)
		if !strings.HasPrefix(name, ".") || i < 0 || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		age := time.Since(info.ModTime())
		stale := age > StaleTemp
		if pid, ok := tempOwner(name[i+len(tempMarker):]); ok && ownersKnown {
			// The owner decides while it runs (a long validation keeps
			// its copy); a day covers a pid the system gave again.
			stale = !processRuns(pid) || age > staleOwned
		}
		if stale {
			root.Remove(path.Join(dir, name))
		}
	}
}

// tempOwner reads the pid from the tail of a temporary file name:
// [check-]PID-RANDOM. Names from before pids were recorded have none.
func tempOwner(tail string) (int, bool) {
	tail = strings.TrimPrefix(tail, "check-")
	pid, rest, ok := strings.Cut(tail, "-")
	if !ok || rest == "" {
		return 0, false
	}
	n, err := strconv.Atoi(pid)
	return n, err == nil && n > 0
}
