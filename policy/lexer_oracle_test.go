package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/armorer-dev/armorer/internal/oracle"
	"github.com/armorer-dev/armorer/policy"
)

// Lexer cases FuzzCheckOracle found, on which armorer agrees with both
// real parsers. apparmor_parser's lexer ends the abi and alias keywords at
// their first non-identifier byte, as it does profile and hat:
// abi<abi/3.0>, is the abi rule, alias"/usr/" -> … an alias. Its blanks are
// space and tab, its line ends \n and \r\n: a form feed or vertical tab is
// an unexpected character.
func TestLexerAgreesWithParser(t *testing.T) {
	cases := []string{
		"profile x {\v}\n",
		"profile x {\f}\n",
		"profile x {\r}\n",
		"profile x {\r\n  /etc/hosts r,\r\n}\r\n",
		"profile x {\t/etc/hosts\tr,\n}\n",
		"profile x {\n  /etc/hosts r,\v\n}\n",
		"profile x {\n  /etc/hosts r, # a\vcomment\n}\n",
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
