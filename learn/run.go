package learn

import (
	"fmt"

	"github.com/armorer-dev/armorer/host"
)

// WithProfiles completes learn options from a profile set: exec
// targets with a profile become Px, helpers inside a profile's own tree
// ix, only what a profile does not allow yet is learned, and abstractions
// are chosen among the policy's (those that grant nothing sensitive).
// warn, if not nil, receives problems that do not stop learning.
// abstractions names the candidates (nil: DefaultAbstractions).
func WithProfiles(opts Options, pol *host.ProfileSet, abstractions []string, warn func(error)) Options {
	if warn == nil {
		warn = func(error) {}
	}
	opts.ProfileFor = pol.ProfileFor
	opts.AppTree = func(profile string) string {
		if e := pol.Profiles[profile]; e != nil {
			return appTree(e.Attach)
		}
		return appTree(profile)
	}
	covs := map[string]coverer{}
	opts.existing = func(profile string) coverer {
		if c, ok := covs[profile]; ok {
			return c
		}
		var c coverer
		if pol.Profiles[profile] != nil {
			cov, err := ProfileCoverage(pol, profile)
			if err != nil {
				warn(fmt.Errorf("profile %s: %w", profile, err))
			}
			if cov != nil {
				c = cov
			}
		}
		covs[profile] = c
		return c
	}
	opts.abstractions = candidates(pol, abstractions)
	return opts
}
