package policy_test

import (
	"slices"
	"testing"

	"github.com/armorer-dev/armorer/policy"
)

// FuzzCheck: Check never panics, every diagnostic has a position in a
// file (or is an I/O error), and checking is deterministic. Seeded with
// the differential corpus.
func FuzzCheck(f *testing.F) {
	for _, c := range loadCorpus(f) {
		f.Add(c.Text("abi/3.0"), false)
		f.Add(c.Text("abi/4.0"), true)
	}
	inc := corpusIncludeDir(f)
	f.Fuzz(func(t *testing.T, src []byte, v4 bool) {
		cfg := policy.CheckConfig{Target: policy.V3_0}
		if v4 {
			cfg.Target = policy.V4_1
		}
		run := func() []string {
			res := policy.CheckFile(policy.NewLoader(inc), "fuzz", src, cfg)
			var out []string
			for _, d := range res.Diagnostics {
				if d.Category != "io" && (d.Pos.Filename == "" || d.Pos.Line < 1 || d.Pos.Column < 1) {
					t.Errorf("diagnostic without a position: %+v", d)
				}
				out = append(out, d.String())
			}
			return out
		}
		if a, b := run(), run(); !slices.Equal(a, b) {
			t.Errorf("Check is not deterministic:\n%q\n%q", a, b)
		}
	})
}
