package aare_test

import (
	"fmt"

	"github.com/armorer-dev/armorer/policy/aare"
)

// Match paths against an AppArmor pattern: * stays within one path
// component, ** crosses them, {a,b} is an alternation.
func ExampleCompile() {
	pat, err := aare.Compile("/home/*/.config/{app,app-beta}/**", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, path := range []string{
		"/home/alice/.config/app/settings.json",
		"/home/alice/.config/app-beta/a/b",
		"/home/alice/x/.config/app/settings.json", // * never matches '/'
	} {
		fmt.Println(pat.Match(path), path)
	}
	// Output:
	// true /home/alice/.config/app/settings.json
	// true /home/alice/.config/app-beta/a/b
	// false /home/alice/x/.config/app/settings.json
}

// Variables expand through a lookup function, as @{HOME} does in a profile.
func ExampleCompile_variables() {
	vars := func(name string) ([]string, bool) {
		if name == "HOME" {
			return []string{"/home/*/", "/root/"}, true
		}
		return nil, false
	}
	pat, err := aare.Compile("@{HOME}.ssh/id_*", vars)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pat.Match("/root/.ssh/id_ed25519"), pat.Match("/srv/.ssh/id_rsa"))
	// Output:
	// true false
}

// Decide whether one rule's pattern covers another's: every path the
// second matches, the first matches too. It is decided on the patterns'
// automata, never guessed from their text.
func ExampleCovers() {
	wide := aare.MustCompile("/var/log/app/**")
	narrow := aare.MustCompile("/var/log/{app,other}/*.log")
	fmt.Println(aare.Covers(wide, aare.MustCompile("/var/log/app/*.log")))
	fmt.Println(aare.Covers(wide, narrow)) // /var/log/other/x.log is not under app/
	// Output:
	// yes
	// no
}
