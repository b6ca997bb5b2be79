package main

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	semverRe   = regexp.MustCompile(`^v?(\d+\.\d+\.\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$`)
	describeRe = regexp.MustCompile(`^(.*)-(\d+)-g([0-9a-f]{4,40})$`)
	pseudoRe   = regexp.MustCompile(`^(?:[0-9A-Za-z.]+\.)?(\d{14})-([0-9a-f]{12})$`)
)

// debVersion turns a Go-style version into a Debian one that sorts the
// same way: v1.2.3 → 1.2.3; a pre-release sorts before its release
// (v1.2.3-rc.1 → 1.2.3~rc.1, a pseudo-version v0.0.0-20261203050000-9ea949b0c1d2
// → 0.0.0~git20261203050000.9ea949b0c1d2); git describe past a tag sorts
// after it (v1.2.3-4-gabc1234 → 1.2.3+git4.abc1234).
func debVersion(v string) (string, error) {
	post := ""
	if m := describeRe.FindStringSubmatch(v); m != nil && semverRe.MatchString(m[1]) {
		v, post = m[1], "+git"+m[2]+"."+m[3]
	}
	m := semverRe.FindStringSubmatch(v)
	if m == nil {
		return "", fmt.Errorf("version %q is not vMAJOR.MINOR.PATCH[-PRERELEASE]", v)
	}
	out := m[1]
	if pre := m[2]; pre != "" {
		if pm := pseudoRe.FindStringSubmatch(pre); pm != nil {
			pre = "git" + pm[1] + "." + pm[2]
		}
		out += "~" + strings.ReplaceAll(pre, "-", ".")
	}
	return out + post, nil
}
