package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/kube"
	"github.com/armorer-dev/armorer/policy"
)

// reserved returns why name belongs to the distribution or a runtime, or "".
func (a *Agent) reserved(name string, distro map[string]bool) string {
	if slices.Contains(kube.RuntimeProfiles, name) {
		return "it is a container runtime's profile"
	}
	if distro[name] {
		return fmt.Sprintf("it belongs to the distribution (%s defines it)", a.cfg.Includes)
	}
	return ""
}

// distroNames lists the profile names and file names of the host's
// profile directory (the --includes directory): the distribution's own
// profiles, which the agent must never replace.
func (a *Agent) distroNames() map[string]bool {
	m := map[string]bool{}
	dir := a.cfg.Includes
	ents, err := os.ReadDir(dir)
	if err != nil {
		return m
	}
	for _, e := range ents {
		if e.Type().IsRegular() && !policy.SkippedName(e.Name()) {
			m[e.Name()] = true
		}
	}
	h := host.New(host.Paths{ProfileDir: dir}, nil)
	names, _ := h.DefinedProfiles()
	for _, n := range names {
		m[n] = true
	}
	return m
}

// invalidError is a profile that is wrong (not an environment failure):
// it is reported and not retried until its content changes.
type invalidError struct{ err error }

func (e *invalidError) Error() string { return e.err.Error() }
func (e *invalidError) Unwrap() error { return e.err }

func invalidf(format string, args ...any) error {
	return &invalidError{fmt.Errorf(format, args...)}
}

// validated is a profile that passed every check.
type validated struct {
	mode   host.Mode
	staged string // the staged copy in the state directory
}

// validate checks one profile the way the kernel will see it: armorer's
// parser and checker (with the includes directory as search path), the
// profile's name against its key, then apparmor_parser -QK on a staged
// copy, against this node's kernel features. Nothing is loaded.
func (a *Agent) validate(ctx context.Context, l *policy.Loader, name string, content []byte) (*validated, error) {
	res := policy.CheckFile(l, name, content, policy.CheckConfig{MinTarget: a.minTarget})
	if !res.Valid() {
		var msgs []string
		for _, d := range res.Errors() {
			msgs = append(msgs, d.String())
			if len(msgs) == 5 {
				break
			}
		}
		return nil, invalidf("%s", strings.Join(msgs, "; "))
	}
	var top []*policy.Profile
	for _, r := range res.File.Rules {
		if p, ok := r.(*policy.Profile); ok {
			top = append(top, p)
		}
	}
	switch {
	case len(top) != 1:
		return nil, invalidf("the key must hold exactly one top-level profile, named %s; it holds %d", name, len(top))
	case top[0].Name == nil || top[0].Name.Value() != name:
		got := "an unnamed profile"
		if top[0].Name != nil {
			got = "profile " + top[0].Name.Value()
		}
		return nil, invalidf("key %s holds %s: the key must be the profile's name (pods refer to it by that name)", name, got)
	case top[0].Attach != nil && !a.cfg.AllowAttachments:
		return nil, invalidf("profile %s has the attachment %s: it would confine the host's processes that match it on every node "+
			"(containers are attached by name, localhostProfile); remove it, or run the agent with --allow-attachments", name, top[0].Attach.Raw)
	}
	staged, err := a.stage(name, content)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.Remove(staged)
		}
	}()
	if err := a.host.Parser.Validate(ctx, staged); err != nil {
		return nil, parserErr(err, staged, name)
	}
	names, err := a.host.Parser.Names(ctx, staged)
	if err != nil {
		return nil, parserErr(err, staged, name)
	}
	for _, n := range names {
		if n != name && !strings.HasPrefix(n, name+"//") {
			return nil, invalidf("key %s defines profile %s: every profile it defines must be %s or its child", name, n, name)
		}
	}
	ok = true
	return &validated{mode: host.ProfileMode(top[0]), staged: staged}, nil
}

// stage writes content to the state directory's staging area (never a
// directory AppArmor loads at boot).
func (a *Agent) stage(name string, content []byte) (string, error) {
	dir := filepath.Join(a.cfg.StateDir, "staging")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("staging directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	if err := root.WriteFile(name, content, 0o600); err != nil {
		return "", fmt.Errorf("stage %s: %w", name, err)
	}
	return filepath.Join(dir, name), nil
}

// parserErr names the key, not the staged path, in apparmor_parser's
// messages.
func parserErr(err error, staged, name string) error {
	var pe *host.ParserError
	if errors.As(err, &pe) {
		pe.File = name
		pe.Stderr = strings.ReplaceAll(pe.Stderr, staged, name)
	}
	var inv *host.InvalidProfileError
	if errors.As(err, &inv) {
		return &invalidError{fmt.Errorf("rejected by apparmor_parser: %w", err)}
	}
	return err
}
