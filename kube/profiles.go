package kube

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/policy"
	"k8s.io/apimachinery/pkg/util/validation"
)

// MaxConfigMapSize is what the API server stores in one ConfigMap (etcd's
// object limit): a bigger profile set is refused here, not half-applied.
const MaxConfigMapSize = 1 << 20

// RuntimeProfiles are names that container runtimes load and refer to
// themselves: a ConfigMap that replaced one would be root-equivalent, so
// neither the manifests nor the agent accept them.
var RuntimeProfiles = []string{"unconfined", "runc", "crun", "cri-containerd.apparmor.d", "docker-default", "containerd", "crio"}

// ProfileSource is one profile of the ConfigMap: its key is the profile's
// name, which pods put in localhostProfile.
type ProfileSource struct {
	Name    string
	File    string // the file it came from
	Content []byte
}

// ProfileError is a profile directory that cannot become the agent's
// ConfigMap; Problems are one line each, "file:line:col: msg" when the
// problem is in the text.
type ProfileError struct {
	Dir      string
	Problems []string
}

func (e *ProfileError) Error() string {
	return fmt.Sprintf("profiles in %s:\n  %s", e.Dir, strings.Join(e.Problems, "\n  "))
}

// ReadProfiles reads the profile files of dir the way the agent will take
// them: every file the AppArmor loader would load must pass armorer's
// checker (includes resolved through searchPath), define exactly one
// top-level profile whose name is a ConfigMap key and no runtime's name,
// and together they must fit in one ConfigMap. Every problem is reported,
// not only the first.
func ReadProfiles(dir string, searchPath []string, minTarget policy.Version) ([]ProfileSource, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read profile directory: %w", err)
	}
	l := policy.NewLoader(searchPath...)
	perr := &ProfileError{Dir: dir}
	var out []ProfileSource
	seen := map[string]string{}
	size := 0
	for _, e := range ents {
		file := filepath.Join(dir, e.Name())
		if policy.SkippedName(e.Name()) {
			continue
		}
		if fi, err := os.Stat(file); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			perr.Problems = append(perr.Problems, err.Error())
			continue
		}
		res := policy.CheckFile(l, file, src, policy.CheckConfig{MinTarget: minTarget})
		if !res.Valid() {
			for _, d := range res.Errors() {
				perr.Problems = append(perr.Problems, d.String())
			}
			continue
		}
		var top []*policy.Profile
		for _, r := range res.File.Rules {
			if p, ok := r.(*policy.Profile); ok {
				top = append(top, p)
			}
		}
		if len(top) != 1 || top[0].Name == nil {
			perr.Problems = append(perr.Problems, fmt.Sprintf("%s: defines %d named top-level profiles; each file becomes one ConfigMap key and must define exactly one", file, countNamed(top)))
			continue
		}
		name := top[0].Name.Value()
		if msg := keyProblem(name); msg != "" {
			perr.Problems = append(perr.Problems, fmt.Sprintf("%s: profile %q: %s", file, name, msg))
			continue
		}
		if prev, dup := seen[name]; dup {
			perr.Problems = append(perr.Problems, fmt.Sprintf("%s: profile %q is also defined in %s", file, name, prev))
			continue
		}
		seen[name] = file
		size += len(name) + len(src)
		out = append(out, ProfileSource{Name: name, File: file, Content: src})
	}
	if size > MaxConfigMapSize {
		perr.Problems = append(perr.Problems, fmt.Sprintf("the profiles take %d bytes; one ConfigMap holds at most %d (1 MiB): split them or shrink them", size, MaxConfigMapSize))
	}
	if len(out) == 0 && len(perr.Problems) == 0 {
		perr.Problems = append(perr.Problems, "no profile files (the agent would have nothing to load)")
	}
	if len(perr.Problems) > 0 {
		return nil, perr
	}
	slices.SortFunc(out, func(a, b ProfileSource) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func countNamed(ps []*policy.Profile) int {
	n := 0
	for _, p := range ps {
		if p.Name != nil {
			n++
		}
	}
	return n
}

// keyProblem says why a profile name cannot be the agent's ConfigMap key,
// or "".
func keyProblem(name string) string {
	if slices.Contains(RuntimeProfiles, name) {
		return "belongs to a container runtime; the agent refuses to replace it"
	}
	if err := CheckProfileName(name); err != nil {
		return err.Error()
	}
	return ""
}

// CheckProfileName says why name cannot be a profile the agent loads from
// its ConfigMap, whose keys are the profile names: a ConfigMap key, not
// starting with '.' (AppArmor's loader skips those). The manifests and
// the agent both check it; RuntimeProfiles are refused apart, since the
// agent also refuses the distribution's names.
func CheckProfileName(name string) error {
	if strings.HasPrefix(name, ".") {
		return errors.New("names starting with '.' are skipped by AppArmor's loader")
	}
	if errs := validation.IsConfigMapKey(name); len(errs) > 0 {
		return errors.New("is not a ConfigMap key (" + strings.Join(errs, "; ") + "); name the profile with letters, digits, '-', '_' and '.' (profile NAME /path/to/binary { ... })")
	}
	return nil
}
