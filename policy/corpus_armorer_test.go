package policy_test

import (
	"strings"

	"github.com/armorer-dev/armorer/policy"
)

// armorerVerdict checks text as armorer check --target does, with the
// given search path, and says whether it is valid.
func armorerVerdict(text []byte, target string, includeDirs []string) (bool, string) {
	v, err := policy.ParseVersion(target)
	if err != nil {
		panic(err)
	}
	l := policy.NewLoader(includeDirs...)
	l.Base = includeDirs[len(includeDirs)-1]
	res := policy.CheckFile(l, "profile", text, policy.CheckConfig{Target: v})
	var msgs []string
	for _, d := range res.Errors() {
		msgs = append(msgs, d.String())
	}
	return res.Valid(), strings.Join(msgs, "; ")
}
