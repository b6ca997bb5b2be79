package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The --json documents are checked against their published schemas
// (docs/json/NAME.v1.schema.json) in the testscripts, on the real
// output of each verb:
//
//	exec armorer learn --json x.log
//	schema learn stdout
//
// The schemas forbid unknown fields and name the required ones, so a
// field added to a report struct without its schema, or a schema field
// the output lacks, fails.

var (
	schemaMu    sync.Mutex
	schemaCache = map[string]*jsonschema.Schema{}
)

func compileSchema(name string) (*jsonschema.Schema, error) {
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s := schemaCache[name]; s != nil {
		return s, nil
	}
	path, err := filepath.Abs(filepath.Join("..", "..", "docs", "json", name+".v1.schema.json"))
	if err != nil {
		return nil, err
	}
	s, err := jsonschema.NewCompiler().Compile(path)
	if err != nil {
		return nil, err
	}
	schemaCache[name] = s
	return s, nil
}

// cmdSchema validates a file (stdout, stderr or a work file) against a
// schema; with "!" it must fail validation.
func cmdSchema(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: schema NAME FILE")
	}
	s, err := compileSchema(args[0])
	ts.Check(err)
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(ts.ReadFile(args[1])))
	if err != nil {
		ts.Fatalf("%s: not JSON: %v", args[1], err)
	}
	err = s.Validate(doc)
	switch {
	case err != nil && !neg:
		ts.Fatalf("%s does not follow docs/json/%s.v1.schema.json:\n%v", args[1], args[0], err)
	case err == nil && neg:
		ts.Fatalf("%s follows docs/json/%s.v1.schema.json, want a violation", args[1], args[0])
	}
}

// TestSchemasValidated: every published schema compiles and is checked
// against real output by at least one testscript, and every --json flag
// of the command tree has a schema that a script checks.
func TestSchemasValidated(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "docs", "json", "*.v1.schema.json"))
	used := map[string]bool{}
	scripts, _ := filepath.Glob(filepath.Join("testdata", "script", "*.txtar"))
	re := regexp.MustCompile(`(?m)^\s*schema ([a-z-]+) `)
	for _, s := range scripts {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			used[string(m[1])] = true
		}
	}
	var names []string
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".v1.schema.json")
		names = append(names, name)
		if _, err := compileSchema(name); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if name != "defs" && !used[name] {
			t.Errorf("no testscript validates output against %s (add: schema %s stdout)", f, name)
		}
	}
	// Each verb with --json, and the schema its document follows.
	schemaOf := map[string]string{"load": "host", "unload": "host", "complain": "host", "enforce": "host", "disable": "host",
		"events": "events-summary"}
	root := NewRootCmd(&Factory{IO: &IOStreams{}})
	cmds := root.Commands()
	for _, c := range root.Commands() {
		if c.Name() == "library" { // subcommands with schemas of their own: library-list
			cmds = append(cmds, c.Commands()...)
		}
	}
	for _, c := range cmds {
		if c.Flags().Lookup("json") == nil || strings.HasPrefix(c.Name(), "k8s") {
			continue
		}
		want := c.Name()
		if c.HasParent() && c.Parent() != root {
			want = c.Parent().Name() + "-" + c.Name()
		}
		if s, ok := schemaOf[want]; ok {
			want = s
		}
		if !slices.Contains(names, want) {
			t.Errorf("%s has --json but docs/json has no %s.v1.schema.json", c.CommandPath(), want)
		}
	}
}
