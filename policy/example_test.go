package policy_test

import (
	"fmt"
	"go/token"
	"os"

	"github.com/armorer-dev/armorer/policy"
)

// Parse a profile and print it in the canonical style of `armorer fmt`:
// indentation and spacing change, spellings (#include, quotes) and
// comments stay.
func Example() {
	src := []byte(`#include <tunables/global>
profile myapp   /usr/bin/myapp {
      #include <abstractions/base>
  /etc/myapp.conf    r,   # its configuration
  owner @{HOME}/.myapp/** rw,
}
`)
	fset := token.NewFileSet()
	f, err := policy.ParseFile(fset, "myapp", src, policy.ParseComments)
	if err != nil {
		fmt.Println(err) // file:line:col: message, for every syntax error
		return
	}
	if err := policy.Format(os.Stdout, fset, f); err != nil {
		fmt.Println(err)
	}
	// Output:
	// #include <tunables/global>
	// profile myapp /usr/bin/myapp {
	//   #include <abstractions/base>
	//   /etc/myapp.conf r, # its configuration
	//   owner @{HOME}/.myapp/** rw,
	// }
}

// Syntax errors come as a list with positions; the tree holds what could
// be parsed.
func ExampleParseFile_errors() {
	src := []byte("profile p {\n  /etc/p r\n  capability chown,\n}\n")
	_, err := policy.ParseFile(token.NewFileSet(), "p", src, 0)
	fmt.Println(err)
	// Output:
	// p:2:11: missing ',' at the end of the rule (found "capability" next)
}

// Add a rule to a hand-written profile and change its flags: Edits gives
// the minimal text edits, so every byte the program did not change (odd
// spacing, tabs, comments) stays as written.
func ExampleEdits() {
	src := []byte(`profile myapp /usr/bin/myapp {
	/etc/myapp.conf    r,   # hand-aligned
	/var/lib/myapp/    r,
}
`)
	fset := token.NewFileSet()
	f, err := policy.ParseFile(fset, "myapp", src, policy.ParseComments)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := f.Rules[0].(*policy.Profile)
	// Next to the most similar rule, /var/lib/myapp/.
	p.AddRule(nil, &policy.FileRule{Path: policy.NewWord("/var/lib/myapp/**"), Perms: policy.NewWord("rw")})
	p.Flags = &policy.Cond{Key: policy.NewWord("flags"), Value: &policy.List{Paren: true, Words: []*policy.Word{policy.NewWord("complain")}}}

	edits, err := policy.Edits(fset, src, f)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range edits {
		fmt.Printf("%s: %q\n", fset.Position(e.Pos), e.NewText)
	}
	out, err := policy.ApplyEdits(fset, src, edits)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))
	// Output:
	// myapp:1:1: "profile myapp /usr/bin/myapp flags=(complain)"
	// myapp:4:1: "\t/var/lib/myapp/** rw,\n"
	// profile myapp /usr/bin/myapp flags=(complain) {
	// 	/etc/myapp.conf    r,   # hand-aligned
	// 	/var/lib/myapp/    r,
	// 	/var/lib/myapp/** rw,
	// }
}

// Rules walks every rule with the profile it belongs to and the qualifiers
// the blocks around it add.
func ExampleRules() {
	src := []byte(`profile app {
  /etc/app r,
  audit deny {
    owner /etc/shadow r,
  }
  ^hat {
    capability chown,
  }
}
`)
	f, _ := policy.ParseFile(token.NewFileSet(), "app", src, 0)
	for sr := range policy.Rules(f.Rules, nil, nil) {
		in := "(file)" // the top level of the file
		if sr.Profile != nil {
			in = sr.Profile.Name.Raw
		}
		q := sr.Qual
		fmt.Printf("%-6s %T audit=%v deny=%v owner=%v\n", in, sr.Rule, q.Audit, q.Deny, q.Owner)
	}
	// Output:
	// (file) *policy.Profile audit=false deny=false owner=false
	// app    *policy.FileRule audit=false deny=false owner=false
	// app    *policy.FileRule audit=true deny=true owner=true
	// app    *policy.Profile audit=false deny=false owner=false
	// ^hat   *policy.CapabilityRule audit=false deny=false owner=false
}
