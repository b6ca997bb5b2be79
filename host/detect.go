package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Support is what this machine offers: the kernel module, securityfs, the
// kernel's policy features, and apparmor_parser.
type Support struct {
	// Enabled: /sys/module/apparmor/parameters/enabled reads "Y".
	Enabled bool `json:"enabled"`
	// SecurityFS: AppArmor's directory in securityfs is there.
	SecurityFS bool `json:"securityfs"`
	// PolicyLocked: parameters/lock_policy reads "Y"; the kernel then
	// rejects every load, replace and remove until reboot. It is not a
	// Problem: status works, and a rejected load says why.
	PolicyLocked bool `json:"policy_locked"`
	// Features lists the top-level kernel feature directories
	// (capability, file, network, mount, ...).
	Features []string `json:"features,omitempty"`
	// PolicyVersions lists features/policy/versions (v5, v6, ...).
	PolicyVersions []string `json:"policy_versions,omitempty"`
	// ABI is the newest policy ABI the kernel features suggest ("3.0", or
	// "4.0" when the kernel has unix/userns mediation of AppArmor 4).
	ABI string `json:"abi,omitempty"`
	// Parser is the apparmor_parser path and ParserVersion its version.
	Parser        string `json:"parser,omitempty"`
	ParserVersion string `json:"parser_version,omitempty"`
	// Problems says what is missing and how to fix it; empty when
	// AppArmor is fully usable.
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one missing piece, with the fix.
type Problem struct {
	Component Component `json:"component"`
	What      string    `json:"what"`
	Fix       string    `json:"fix"`
}

// Component is the part of AppArmor a Problem is about.
type Component string

// The components Detect checks.
const (
	KernelComponent     Component = "kernel"     // the LSM itself
	SecurityFSComponent Component = "securityfs" // its filesystem interface
	ParserComponent     Component = "parser"     // apparmor_parser
)

func (p Problem) String() string { return p.What + "; " + p.Fix }

// UnavailableError reports that AppArmor cannot be used here. The CLI maps
// it to exit status 3 (the environment failed).
type UnavailableError struct{ Problems []Problem }

func (e *UnavailableError) Error() string {
	var b strings.Builder
	b.WriteString("AppArmor is not usable on this host:")
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Detect looks at the module parameters, securityfs, the kernel features
// and apparmor_parser. It fails only on unexpected I/O errors: what is
// missing is listed in Support.Problems.
func (h *Host) Detect(ctx context.Context) (*Support, error) {
	s := &Support{}
	enabledFile := filepath.Join(h.Paths.Module, "parameters", "enabled")
	enabled, err := readTrimmed(enabledFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.Problems = append(s.Problems, Problem{Component: KernelComponent,
			What: fmt.Sprintf("the kernel has no AppArmor (%s does not exist)", enabledFile),
			Fix:  `boot a kernel built with CONFIG_SECURITY_APPARMOR=y (Debian's and Ubuntu's stock kernels are)`,
		})
	case err != nil:
		return nil, fmt.Errorf("detect AppArmor: %w", err)
	case enabled == "Y":
		s.Enabled = true
	default:
		s.Problems = append(s.Problems, Problem{Component: KernelComponent,
			What: fmt.Sprintf("AppArmor is built in but disabled (%s reads %q)", enabledFile, enabled),
			Fix:  `add "apparmor=1 security=apparmor" (or "lsm=...,apparmor") to the kernel command line and reboot`,
		})
	}
	// A locked policy is reported, not refused up front: the kernel is the
	// authority on what it accepts, and a rejection is explained then.
	s.PolicyLocked = h.policyLocked()

	aafs := h.Paths.apparmorfs()
	if _, err := os.Stat(filepath.Join(aafs, "profiles")); err == nil {
		s.SecurityFS = true
	} else if s.Enabled {
		s.Problems = append(s.Problems, Problem{Component: SecurityFSComponent,
			What: fmt.Sprintf("securityfs is not mounted (%s is missing)", filepath.Join(aafs, "profiles")),
			Fix:  fmt.Sprintf("mount -t securityfs securityfs %s", h.Paths.SecurityFS),
		})
	}
	if s.SecurityFS {
		feat := filepath.Join(aafs, "features")
		s.Features, _ = dirNames(feat)
		s.PolicyVersions, _ = dirNames(filepath.Join(feat, "policy", "versions"))
		s.ABI = abiFromFeatures(feat, s.Features)
	}

	if path, err := h.Parser.path(); err != nil {
		s.Problems = append(s.Problems, Problem{Component: ParserComponent,
			What: "apparmor_parser was not found (" + err.Error() + ")",
			Fix:  "install it: apt-get install apparmor (Debian, Ubuntu) or zypper install apparmor-parser (SUSE)",
		})
	} else {
		s.Parser = path
		v, err := h.Parser.Version(ctx)
		if err != nil {
			s.Problems = append(s.Problems, Problem{Component: ParserComponent,
				What: fmt.Sprintf("%s does not run: %v", path, err),
				Fix:  "reinstall the apparmor package",
			})
		}
		s.ParserVersion = v
	}
	return s, nil
}

// RequireKernel returns an *UnavailableError unless AppArmor is enabled,
// securityfs is mounted and apparmor_parser runs: everything a load,
// replace or remove needs.
func (h *Host) RequireKernel(ctx context.Context) (*Support, error) {
	s, err := h.Detect(ctx)
	if err != nil {
		return nil, err
	}
	if len(s.Problems) > 0 {
		return s, &UnavailableError{Problems: s.Problems}
	}
	return s, nil
}

// RequireSecurityFS returns an *UnavailableError unless the loaded
// profiles can be read: what status needs.
func (h *Host) RequireSecurityFS(ctx context.Context) (*Support, error) {
	s, err := h.Detect(ctx)
	if err != nil {
		return nil, err
	}
	if !s.Enabled || !s.SecurityFS {
		var ps []Problem
		for _, p := range s.Problems {
			if p.Component != ParserComponent {
				ps = append(ps, p)
			}
		}
		return s, &UnavailableError{Problems: ps}
	}
	return s, nil
}

// abiFromFeatures picks the policy ABI from the kernel's feature tree, a
// heuristic: the mediation AppArmor 4.0 added, io_uring and user namespace
// creation (namespaces/userns_create), appeared in Linux 6.7/6.8; kernels
// without it are served best by abi/3.0. (Debian 12's 6.1 already has a
// "namespaces" directory, for pivot_root and profile, so its presence
// alone says nothing.)
func abiFromFeatures(featureDir string, features []string) string {
	if len(features) == 0 {
		return ""
	}
	if slices.Contains(features, "io_uring") {
		return "4.0"
	}
	if _, err := os.Stat(filepath.Join(featureDir, "namespaces", "userns_create")); err == nil {
		return "4.0"
	}
	return "3.0"
}

func readTrimmed(name string) (string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func dirNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names, nil
}

// lockedHint explains a kernel rejection when the policy is locked.
const lockedHint = "the policy is locked (/sys/module/apparmor/parameters/lock_policy is Y): the kernel rejects every load, replace and remove until reboot"

func (h *Host) policyLocked() bool {
	locked, err := readTrimmed(filepath.Join(h.Paths.Module, "parameters", "lock_policy"))
	return err == nil && locked == "Y"
}
