package cli

import (
	"encoding/json"
	"io"
	"path/filepath"
	"strings"

	"github.com/armorer-dev/armorer/auditlog/source"
	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/learn"
	simulator "github.com/armorer-dev/armorer/simulate"
	"github.com/armorer-dev/armorer/skeleton"
)

// --json output: every verb that reports something prints one JSON
// document through writeJSON. Its top-level object names its schema
// ("armorer/learn/v1"): docs/json/<verb>.v1.schema.json describes it and
// docs/json.md the rules (fields are only added within a version).

// schemaName is the schema a verb's --json document follows.
func schemaName(verb string) string { return "armorer/" + verb + "/v1" }

// writeJSON prints v as one indented JSON document. Rules and paths keep
// their < > & (no HTML escaping: nobody embeds this in a web page).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeJSONLine prints v as one JSON object on one line.
func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// logJSON is the event pipeline's accounting of what it read.
type logJSON struct {
	Lines      uint64 `json:"lines"`
	Events     uint64 `json:"events"`
	Duplicates uint64 `json:"duplicates"`
	Unreadable uint64 `json:"unreadable"`
	Lost       uint64 `json:"lost"`
	Rejected   uint64 `json:"rejected"`
	// Incomplete: lines could not be read or events were lost.
	Incomplete bool `json:"incomplete"`
}

func logStats(st source.Stats) logJSON {
	return logJSON{Lines: st.Lines, Events: st.Events, Duplicates: st.Duplicates, Unreadable: st.Bad,
		Lost: st.Lost, Rejected: st.Rejected, Incomplete: st.Incomplete()}
}

// findingJSON is one access held back for a human, with its stable ID
// and the command that grants it.
type findingJSON struct {
	ID         string   `json:"id"`
	Profile    string   `json:"profile"`
	Rule       string   `json:"rule"`
	Kind       string   `json:"kind"`
	Severity   string   `json:"severity"`
	Reason     string   `json:"reason"`
	Events     int      `json:"events"`
	Lines      []string `json:"lines"`
	Acceptable bool     `json:"acceptable"`
	Accept     string   `json:"accept,omitempty"`
}

// acceptCommand is how a human grants finding f: learn again from
// sources with --accept. Every word is quoted for the shell.
func acceptCommand(f learn.Finding, dir string, sources []string) string {
	if !f.Acceptable() {
		return ""
	}
	args := []string{"armorer", "learn"}
	if dir != "" {
		args = append(args, "--dir", dir)
	}
	args = append(args, "--profile", strings.SplitN(f.Profile, "//", 2)[0], "--accept", f.Key(), "--write")
	args = append(args, sources...)
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it: the commands
// armorer suggests are printed for people to paste, never run.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func findingsJSON(fs []learn.Finding, dir string, sources []string) []findingJSON {
	out := []findingJSON{}
	for _, f := range fs {
		lines := []string{}
		for _, l := range f.Evidence.Lines {
			lines = append(lines, l.String())
		}
		out = append(out, findingJSON{
			ID: f.Key(), Profile: f.Profile, Rule: f.RuleText(), Kind: f.ID, Severity: f.Severity.String(),
			Reason: f.Reason, Events: f.Evidence.Count, Lines: lines, Acceptable: f.Acceptable(),
			Accept: acceptCommand(f, dir, sources),
		})
	}
	return out
}

// learnReport is learn's (and record's) --json document.
type learnReport struct {
	Schema string `json:"schema"`
	// Output is what was done with the changes: diff, stdout or write.
	Output     string           `json:"output"`
	Profiles   []learnedJSON    `json:"profiles"`
	Findings   []findingJSON    `json:"findings"`
	Accepted   []findingJSON    `json:"accepted"`
	Unmatched  []string         `json:"unmatched_accepts"`
	Changes    []changeJSON     `json:"changes"`
	Accounting learn.Accounting `json:"accounting"`
	Summary    string           `json:"summary"`
	Log        logJSON          `json:"log"`
	Written    []writtenJSON    `json:"written"`
}

// learnedJSON is what was learned for one profile.
type learnedJSON struct {
	Name     string        `json:"name"`
	Parent   string        `json:"parent,omitempty"`
	Includes []string      `json:"includes"`
	Rules    []learnedRule `json:"rules"`
	// Abstractions say, per include, what it was chosen for and what
	// else it grants: no access is granted invisibly.
	Abstractions []abstractionJSON `json:"abstractions,omitempty"`
}

type abstractionJSON struct {
	Name   string   `json:"name"`
	Reason string   `json:"reason"`
	Covers []string `json:"covers"`
	Grants []string `json:"grants"`
}

type learnedRule struct {
	Rule     string    `json:"rule"`
	Events   int       `json:"events"`
	Examples []string  `json:"examples"`
	Glob     *globJSON `json:"glob,omitempty"`
}

// globJSON is why a learned glob replaced the observed names, and which.
type globJSON struct {
	Why      string   `json:"why"`
	Replaced []string `json:"replaced"`
}

// changeJSON is one file learn changes (or would change).
type changeJSON struct {
	Path     string   `json:"path"`
	NewFile  bool     `json:"new_file"`
	Profiles []string `json:"profiles"`
	Diff     string   `json:"diff"`
	Content  string   `json:"content"`
	// Removed are the file's rules a learned rule covers, which learn
	// removed.
	Removed []removalJSON `json:"removed,omitempty"`
}

// removalJSON is a rule learn removed because a learned rule covers it.
type removalJSON struct {
	Profile string `json:"profile"`
	Rule    string `json:"rule"`
	By      string `json:"by"`
}

// writtenJSON is one file a command wrote.
type writtenJSON struct {
	Path   string `json:"path"`
	Backup string `json:"backup,omitempty"`
}

func newLearnReport(res *learn.SessionResult, st source.Stats, dir string, sources []string) *learnReport {
	r := &learnReport{
		Schema: schemaName("learn"), Profiles: []learnedJSON{},
		Findings:   findingsJSON(res.Findings, dir, sources),
		Accepted:   findingsJSON(res.Accept.Accepted, "", nil),
		Unmatched:  append([]string{}, res.Accept.Unmatched...),
		Changes:    []changeJSON{},
		Accounting: res.Accounting, Summary: res.Accounting.String(), Log: logStats(st),
		Written: []writtenJSON{},
	}
	for i := range r.Accepted {
		r.Accepted[i].Accept = ""
	}
	for _, p := range res.Profiles {
		lp := learnedJSON{Name: p.Name, Parent: p.Parent, Includes: []string{}, Rules: []learnedRule{}}
		for _, a := range p.Abstractions {
			lp.Includes = append(lp.Includes, a.Name)
			lp.Abstractions = append(lp.Abstractions, abstractionJSON{Name: a.Name, Reason: a.Reason,
				Covers: append([]string{}, a.Covers...), Grants: append([]string{}, a.Grants...)})
		}
		for _, l := range p.Rules {
			lr := learnedRule{Rule: l.RuleText(), Events: l.Evidence.Count, Examples: append([]string{}, l.Evidence.Examples...)}
			if l.Glob != nil {
				lr.Glob = &globJSON{Why: l.Glob.Why, Replaced: l.Glob.Replaced}
			}
			lp.Rules = append(lp.Rules, lr)
		}
		if len(lp.Rules) > 0 || len(lp.Includes) > 0 {
			r.Profiles = append(r.Profiles, lp)
		}
	}
	return r
}

// newReport is new's --json document.
type newReport struct {
	Schema  string `json:"schema"`
	Program string `json:"program"` // the real path of the program
	Profile string `json:"profile"`
	ABI     string `json:"abi"`
	// File is where the profile goes (--write), "" when only printed.
	File    string        `json:"file,omitempty"`
	Content string        `json:"content"`
	Missing []string      `json:"missing"` // libraries or interpreters not found
	Unit    string        `json:"unit,omitempty"`
	DropIn  *dropInJSON   `json:"drop_in,omitempty"`
	Written []writtenJSON `json:"written"`
}

type dropInJSON struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

func newNewReport(name, abi string, x *skeleton.Executable, content []byte) *newReport {
	if name == "" {
		name = filepath.Base(x.Path)
	}
	return &newReport{Schema: schemaName("new"), Program: x.Path, Profile: name, ABI: abi, Content: string(content),
		Missing: append([]string{}, x.Missing...), Written: []writtenJSON{}}
}

func (r *newReport) wrote(ws []host.Written) {
	for _, w := range ws {
		r.Written = append(r.Written, writtenJSON{Path: w.Path, Backup: w.Backup})
	}
}

// recordReport is record's --json document: the run, then what was
// learned for each of its profiles (learn's report, without its schema).
type recordReport struct {
	Schema   string         `json:"schema"`
	Command  []string       `json:"command"`
	ExitCode int            `json:"exit_code"`
	Source   string         `json:"source"`
	Profiles []string       `json:"profiles"`
	Events   int            `json:"events"`
	Loaded   *host.Result   `json:"loaded"`
	Learned  []*learnReport `json:"learned"`
}

// simulateReport is simulate's --json document: the CI contract.
type simulateReport struct {
	Schema   string       `json:"schema"`
	File     string       `json:"file"`
	Profiles []string     `json:"profiles"`
	Events   int          `json:"events"`
	Replayed int          `json:"replayed"`
	Denials  []denialJSON `json:"denials"`
	// Findings are the denials learn holds back for a human; the other
	// denials are learned by armorer learn --write.
	Findings []findingJSON `json:"findings"`
	Log      logJSON       `json:"log"`
	// Probes (--probe-siblings): would a new file beside an allowed one
	// be allowed?
	Probes []probeJSON `json:"probes,omitempty"`
}

// probeJSON is one sibling probe and the profile's answer.
type probeJSON struct {
	Profile     string `json:"profile"`
	Path        string `json:"path"`
	SiblingOf   string `json:"sibling_of"`
	Kind        string `json:"kind"` // "fresh" or "next"
	Rule        string `json:"rule"`
	Allowed     bool   `json:"allowed"`
	NearestRule string `json:"nearest_rule,omitempty"`
}

func probesJSON(ps []simulator.Probe) []probeJSON {
	out := []probeJSON{}
	for _, p := range ps {
		kind := "fresh"
		if p.Next {
			kind = "next"
		}
		out = append(out, probeJSON{Profile: p.Profile, Path: p.Path, SiblingOf: p.Of, Kind: kind, Rule: p.Rule(), Allowed: p.Allowed, NearestRule: p.Nearest})
	}
	return out
}

// denialJSON is one access enforce mode would deny.
type denialJSON struct {
	Profile string `json:"profile"`
	// Rule is the rule that would allow the access; Missing, for files,
	// the permissions no rule gives.
	Rule    string `json:"rule"`
	Missing string `json:"missing,omitempty"`
	Why     string `json:"why,omitempty"`
	// NearestRule is the existing rule closest to the access ("" when
	// the profile has no rule of its kind).
	NearestRule string          `json:"nearest_rule"`
	Count       int             `json:"count"`
	Events      []eventLocation `json:"events"`
}

// eventLocation names one event: its SOURCE and line (as armorer events
// --json gives them).
type eventLocation struct {
	Source string `json:"source"`
	Line   int64  `json:"line"`
}

func denialsJSON(ds []simulator.Denial) []denialJSON {
	out := []denialJSON{}
	for _, d := range ds {
		j := denialJSON{Profile: d.Profile, Rule: d.RuleText(), Missing: d.Missing, Why: d.Why, NearestRule: d.Nearest,
			Count: d.Count, Events: []eventLocation{}}
		for _, l := range d.Lines {
			j.Events = append(j.Events, eventLocation{Source: l.Source, Line: l.Line})
		}
		out = append(out, j)
	}
	return out
}
