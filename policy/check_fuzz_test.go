package policy_test

import (
	"context"
	"flag"
	"slices"
	"testing"
	"time"

	"github.com/armorer-dev/armorer/internal/oracle"
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

// FuzzCheckOracle compares armorer's verdict (--target 3.0) with
// apparmor_parser 3.0.8's on mutated corpus cases: any difference is a bug
// in armorer, and the input becomes a corpus case. It needs the parser
// (it skips without it, outside CI); plain go test replays a sample of the
// corpus and the committed crashers, go test -fuzz FuzzCheckOracle runs it
// for as long as asked.
func FuzzCheckOracle(f *testing.F) {
	p := oracle.Require(f, "3.0")
	cases := loadCorpus(f)
	step := 1
	if fl := flag.Lookup("test.fuzz"); fl == nil || fl.Value.String() == "" {
		step = 40 // not fuzzing: a sample keeps go test fast
	}
	for i := 0; i < len(cases); i += step {
		f.Add(cases[i].Text(p.ABI))
	}
	inc := corpusIncludeDir(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		accepted, stderr, err := p.Validate(ctx, src, []string{inc})
		if err != nil {
			t.Skipf("apparmor_parser did not finish: %v", err) // it loops on some patterns
		}
		got, msg := armorerVerdict(src, "3.0", []string{inc, p.IncludeDir})
		if got != accepted {
			t.Errorf("armorer %s, apparmor_parser %s %s\n  armorer: %s\n  parser:  %s\n%s",
				verdict{accept: got}, p.Version, verdict{accept: accepted}, msg, stderr, indent(src))
		}
	})
}
