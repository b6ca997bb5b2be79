package policy_test

import (
	"strings"

	"github.com/armorer-dev/armorer/policy"
)

// armorerVerdict checks text as armorer check --target does, with the
// given search path, and says whether it is valid. With a file name and
// nil text, it checks that file.
func armorerVerdict(text []byte, target string, includeDirs []string, file ...string) (bool, string) {
	v, err := policy.ParseVersion(target)
	if err != nil {
		panic(err)
	}
	l := policy.NewLoader(includeDirs...)
	l.Base = includeDirs[len(includeDirs)-1]
	name := "profile"
	if len(file) > 0 {
		name = file[0]
	}
	res := policy.CheckFile(l, name, text, policy.CheckConfig{Target: v})
	var msgs []string
	for _, d := range res.Errors() {
		msgs = append(msgs, d.String())
	}
	return res.Valid(), strings.Join(msgs, "; ")
}
