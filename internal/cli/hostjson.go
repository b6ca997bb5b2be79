package cli

import (
	"context"
	"errors"
	"io"

	"github.com/armorer-dev/armorer/host"
)

// hostReport is the --json document of load, unload, complain, enforce
// and disable: what changed for each argument (file, profiles, mode,
// action, backup) and each failure with its exit status.
type hostReport struct {
	Schema   string        `json:"schema"`
	Verb     string        `json:"verb"`
	Results  []hostResult  `json:"results"`
	Failures []hostFailure `json:"failures"`
	ExitCode int           `json:"exit_code"`
	// Error is what stopped the verb before any argument (no AppArmor).
	Error string `json:"error,omitempty"`
}

// hostResult is what changed for one argument; Gate is enforce's verdict
// when the gate passed (its warnings: sibling probes that would be denied).
type hostResult struct {
	*host.Result
	Gate *gateJSON `json:"gate,omitempty"`
}

type hostFailure struct {
	Arg      string `json:"arg"`
	Error    string `json:"error"`
	ExitCode int    `json:"exit_code"`
	// Gate is enforce's verdict when it refused.
	Gate *gateJSON `json:"gate,omitempty"`
}

type gateJSON struct {
	Events   int               `json:"events"`
	Denials  []string          `json:"denials"`
	Findings []gateFindingJSON `json:"findings"`
	Warnings []string          `json:"warnings,omitempty"` // sibling probes the profile would deny
}

type gateFindingJSON struct {
	ID      string `json:"id"`
	Finding string `json:"finding"`
	Accept  string `json:"accept,omitempty"`
}

func newGateJSON(r *GateReport) *gateJSON {
	g := &gateJSON{Events: r.Events, Denials: append([]string{}, r.Denials...), Findings: []gateFindingJSON{}, Warnings: r.Warnings}
	for _, f := range r.Findings {
		g.Findings = append(g.Findings, gateFindingJSON{ID: f.ID, Finding: f.Text, Accept: f.Accept})
	}
	return g
}

// gatesPassed maps each result of enforce to the verdict of the gate it
// passed, for --json; nil for the other verbs and with --force.
type gatesPassed map[*host.Result]*GateReport

// gateRefusal is enforce's refusal by the gate: a finding (exit 1) that
// carries the report for --json.
type gateRefusal struct {
	found  FoundError
	report *GateReport
}

func (e *gateRefusal) Error() string { return e.found.Error() }
func (e *gateRefusal) Unwrap() error { return &e.found }

// runHostVerbOut is runHostVerb, with --json: the results and failures
// are collected into one document on stdout instead of result lines
// (messages for people stay on stderr). gates (enforce's) gives the
// verdict of the gate a result passed.
func runHostVerbOut(ctx context.Context, ios *IOStreams, hf func() (*host.Host, error), verb string, args []string, json bool, gates gatesPassed, act hostAction) error {
	if !json {
		return runHostVerb(ctx, ios, hf, verb, args, act)
	}
	rep := &hostReport{Schema: schemaName(verb), Verb: verb, Results: []hostResult{}, Failures: []hostFailure{}}
	quiet := &IOStreams{In: ios.In, Out: io.Discard, ErrOut: ios.ErrOut, stdoutTTY: false, stderrTTY: ios.stderrTTY, noColor: ios.noColor}
	started := false
	err := runHostVerb(ctx, quiet, hf, verb, args, func(ctx context.Context, h *host.Host, arg string) (*host.Result, error) {
		started = true
		res, err := act(ctx, h, arg)
		if err != nil {
			f := hostFailure{Arg: arg, Error: err.Error(), ExitCode: exitCode(hostError(err))}
			var gr *gateRefusal
			if errors.As(err, &gr) && gr.report != nil {
				f.Gate = newGateJSON(gr.report)
			}
			rep.Failures = append(rep.Failures, f)
			return nil, err
		}
		r := hostResult{Result: res}
		if g := gates[res]; g != nil {
			r.Gate = newGateJSON(g)
		}
		rep.Results = append(rep.Results, r)
		return res, nil
	})
	rep.ExitCode = exitCode(err)
	if err != nil && !started {
		rep.Error = err.Error()
	}
	if werr := writeJSON(ios.Out, rep); werr != nil {
		return werr
	}
	return err
}
