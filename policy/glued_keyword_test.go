package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/armorer-dev/armorer/internal/oracle"
	"github.com/armorer-dev/armorer/policy"
)

// apparmor_parser's lexer ends the abi and alias keywords at their first
// non-identifier byte, as it does profile and hat: abi<abi/3.0>, is the abi
// rule (FuzzCheckOracle found armorer rejecting it), alias"/usr/" -> … an
// alias. armorer agrees with both real parsers on each case.
func TestGluedKeywordsAgreeWithParser(t *testing.T) {
	cases := []string{
		"abi<abi/3.0>,\nprofile x {\n}\n",
		"abi<abi/3.0> ,\nprofile x {\n}\n",
		"alias/usr/ -> /mnt/usr/,\nprofile x {\n}\n",
		"alias\"/usr/\" -> /mnt/usr/,\nprofile x {\n}\n",
		"profile x {\n  capability,abi<abi/3.0>,\n}\n",
		"abi\"abi/3.0\",\nprofile x {\n}\n", // rejected by both
	}
	for _, version := range []string{"3.0", "4.1"} {
		t.Run(version, func(t *testing.T) {
			p := oracle.Require(t, version)
			dir := t.TempDir()
			for i, src := range cases {
				file := filepath.Join(dir, "case")
				if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
				ok, stderr, err := p.ValidateFile(context.Background(), file, nil)
				if err != nil {
					t.Fatal(err)
				}
				l := policy.NewLoader(p.IncludeDir)
				l.Base = p.IncludeDir
				res := policy.CheckFile(l, file, nil, policy.CheckConfig{})
				if res.Valid() != ok {
					t.Errorf("case %d %q: armorer valid=%v, apparmor_parser %s accepted=%v\n  armorer: %v\n  parser: %s", i, src, res.Valid(), version, ok, res.Errors(), stderr)
				}
			}
		})
	}
}
