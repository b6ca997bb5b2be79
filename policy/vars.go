package policy

import (
	"errors"
	"fmt"
	"go/token"
	"maps"
	"slices"
	"strings"
)

// Vars is the symbol table of a policy load: set variables (@{NAME}, with
// = and +=) and booleans ($NAME). apparmor_parser has one table for all
// files of a load, so tunables/global defines @{HOME} for every profile
// that includes it.
//
// Values are stored as written (without quotes) and expanded on use, as
// apparmor_parser does: a variable may refer to variables defined later.
type Vars struct {
	sets  map[string]*varDef
	bools map[string]*boolDef
	memo  map[string][]string // Expand results; cleared when a variable changes

	profileName string // @{profile_name}: the profile being checked
}

// SetProfileName sets the built-in @{profile_name}, which apparmor_parser
// defines as the name of the profile a rule belongs to.
func (v *Vars) SetProfileName(name string) {
	if v.profileName != name {
		v.profileName = name
		v.memo = nil
	}
}

type varDef struct {
	values []string
	pos    token.Pos // of the first definition
}

type boolDef struct {
	value bool
	pos   token.Pos
}

// maxExpansions bounds the alternatives one word may expand to, so that a
// hostile file cannot make expansion exponential.
const maxExpansions = 1 << 16

// NewVars returns an empty table.
func NewVars() *Vars {
	return &Vars{sets: map[string]*varDef{}, bools: map[string]*boolDef{}}
}

// ErrUndefined is wrapped by the errors for a variable or boolean that
// was never defined.
var ErrUndefined = errors.New("undefined variable")

// VarError is an error about one variable definition or use.
type VarError struct {
	Name string // as written: @{NAME} or $NAME
	Pos  token.Pos
	Msg  string
	Err  error // ErrUndefined or nil
}

func (e *VarError) Error() string { return e.Msg }
func (e *VarError) Unwrap() error { return e.Err }

// ValidVarName reports whether name (without @{ } or $) is a legal
// variable name: a letter, then letters, digits and underscores.
func ValidVarName(name string) bool {
	if name == "" || !isAlpha(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !isAlpha(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// setName returns NAME for "@{NAME}".
func setName(raw string) (string, bool) {
	if strings.HasPrefix(raw, "@{") && strings.HasSuffix(raw, "}") {
		return raw[2 : len(raw)-1], true
	}
	if n, ok := strings.CutPrefix(raw, "@"); ok && ValidVarName(n) {
		return n, true // @NAME, which apparmor_parser also takes
	}
	return "", false
}

// Define records a Variable statement. Defining a name twice with = and
// appending with += to a name never defined are errors, as in apparmor_parser.
func (v *Vars) Define(st *Variable) error {
	name, ok := setName(st.Name.Raw)
	if !ok || !ValidVarName(name) {
		return &VarError{Name: st.Name.Raw, Pos: st.Name.Pos(), Msg: fmt.Sprintf("invalid variable name %s: use @{NAME}, NAME starting with a letter", st.Name.Raw)}
	}
	if len(st.Values) == 0 {
		return &VarError{Name: st.Name.Raw, Pos: st.Name.Pos(), Msg: fmt.Sprintf("variable %s has no value", st.Name.Raw)}
	}
	vals := make([]string, 0, len(st.Values))
	for _, w := range st.Values {
		vals = append(vals, w.Value())
	}
	d := v.sets[name]
	v.memo = nil
	switch {
	case st.Append && d == nil:
		return &VarError{Name: st.Name.Raw, Pos: st.Name.Pos(), Err: ErrUndefined,
			Msg: fmt.Sprintf("%s += appends to a variable that is not defined: define it first with %s = …", st.Name.Raw, st.Name.Raw)}
	case st.Append:
		d.values = append(d.values, vals...)
	case d != nil:
		return &VarError{Name: st.Name.Raw, Pos: st.Name.Pos(),
			Msg: fmt.Sprintf("variable %s is already defined; use += to add values", st.Name.Raw)}
	default:
		v.sets[name] = &varDef{values: vals, pos: st.Name.Pos()}
	}
	return nil
}

// DefineBool records a Boolean statement ($NAME = true|false).
func (v *Vars) DefineBool(st *Boolean) error {
	name := strings.TrimPrefix(st.Name.Raw, "$")
	if n, ok := strings.CutPrefix(name, "{"); ok && strings.HasSuffix(n, "}") {
		name = n[:len(n)-1] // ${NAME}, as apparmor_parser also spells it
	}
	if !ValidVarName(name) {
		return &VarError{Name: st.Name.Raw, Pos: st.Name.Pos(), Msg: fmt.Sprintf("invalid boolean name %s: use $NAME, NAME starting with a letter", st.Name.Raw)}
	}
	var b bool
	switch val := strings.ToLower(st.Value.Value()); val {
	case "true":
		b = true
	case "false":
	default:
		return &VarError{Name: st.Name.Raw, Pos: st.Value.Pos(), Msg: fmt.Sprintf("boolean %s must be true or false, not %q", st.Name.Raw, st.Value.Value())}
	}
	if _, dup := v.bools[name]; dup {
		return &VarError{Name: st.Name.Raw, Pos: st.Name.Pos(), Msg: fmt.Sprintf("boolean %s is already defined", st.Name.Raw)}
	}
	v.bools[name] = &boolDef{value: b, pos: st.Name.Pos()}
	return nil
}

// Bool returns the value of boolean $NAME (name without '$').
func (v *Vars) Bool(name string) (value, ok bool) {
	d, ok := v.bools[name]
	if !ok {
		return false, false
	}
	return d.value, true
}

// Defined reports whether the set variable NAME (without @{ }) exists.
func (v *Vars) Defined(name string) bool { _, ok := v.sets[name]; return ok }

// Names returns the defined set variables, sorted.
func (v *Vars) Names() []string { return slices.Sorted(maps.Keys(v.sets)) }

// Values returns the values of @{NAME} as written, unexpanded.
func (v *Vars) Values(name string) []string {
	if d, ok := v.sets[name]; ok {
		return slices.Clone(d.values)
	}
	return nil
}

// Expand returns every alternative s stands for once its variables are
// replaced by each of their values (recursively), in definition order and
// without duplicates. A string without variables expands to itself.
// The result is shared: do not modify it.
func (v *Vars) Expand(s string) ([]string, error) {
	if !strings.Contains(s, "@{") {
		return []string{s}, nil
	}
	if r, ok := v.memo[s]; ok {
		return r, nil
	}
	r, err := v.expand(s, nil)
	if err != nil {
		return nil, err
	}
	if v.memo == nil {
		v.memo = map[string][]string{}
	}
	v.memo[s] = r
	return r, nil
}

func (v *Vars) expand(s string, stack []string) ([]string, error) {
	i := strings.Index(s, "@{")
	if i < 0 {
		return []string{s}, nil
	}
	j := strings.IndexByte(s[i:], '}')
	if j < 0 {
		return nil, fmt.Errorf("unterminated variable reference in %q: close it with }", s)
	}
	name := s[i+2 : i+j]
	if !ValidVarName(name) {
		return nil, fmt.Errorf("invalid variable name @{%s}", name)
	}
	if slices.Contains(stack, name) {
		return nil, fmt.Errorf("variable @{%s} refers to itself (through %s)", name, strings.Join(append(stack, name), " → "))
	}
	d, ok := v.sets[name]
	if !ok && name == "profile_name" && v.profileName != "" {
		d, ok = &varDef{values: []string{v.profileName}}, true
	}
	if !ok {
		return nil, &VarError{Name: "@{" + name + "}", Err: ErrUndefined,
			Msg: fmt.Sprintf("variable @{%s} is not defined: define it in the preamble or include the tunables that do (include <tunables/global>)", name)}
	}
	var heads []string
	for _, val := range d.values {
		exp, err := v.expand(val, append(stack, name))
		if err != nil {
			return nil, err
		}
		heads = append(heads, exp...)
	}
	tails, err := v.expand(s[i+j+1:], stack)
	if err != nil {
		return nil, err
	}
	if len(heads)*len(tails) > maxExpansions {
		return nil, fmt.Errorf("%q expands to more than %d alternatives", s, maxExpansions)
	}
	out := make([]string, 0, len(heads)*len(tails))
	seen := make(map[string]bool, len(heads)*len(tails))
	for _, h := range heads {
		for _, t := range tails {
			x := s[:i] + h + t
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	return out, nil
}

// References returns the names of the set variables s refers to directly.
func References(s string) []string {
	var names []string
	for {
		i := strings.Index(s, "@{")
		if i < 0 {
			return names
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return names
		}
		names = append(names, s[i+2:i+j])
		s = s[i+j+1:]
	}
}
