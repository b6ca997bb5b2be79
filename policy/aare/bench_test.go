package aare

import (
	"fmt"
	"testing"
)

var benchPatterns = []string{
	"/etc/ld.so.cache",
	"/usr/{lib,lib64}/**/python3.[0-9]*/site-packages/*.so",
	"/{usr/,}lib{,32,64}/**.so*",
	"/proc/[0-9]*/{maps,stat,status,cmdline}",
	"/home/*/.config/{app,app-[0-9]*}/**",
}

const benchPath = "/usr/lib/x86_64-linux-gnu/python3.11/site-packages/_ssl.cpython-311-x86_64-linux-gnu.so"

func BenchmarkMatch(b *testing.B) {
	for _, ps := range benchPatterns {
		p := MustCompile(ps)
		b.Run(ps, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(benchPath)))
			for b.Loop() {
				p.Match(benchPath)
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	for _, ps := range benchPatterns {
		b.Run(ps, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(ps)))
			for b.Loop() {
				if _, err := Compile(ps, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchRules is a profile-sized rule list (about what abstractions/base and a
// small application add up to).
func benchRules() []Rule {
	var rules []Rule
	for i := range 100 {
		rules = append(rules,
			Rule{Pattern: fmt.Sprintf("/usr/lib/app%d/**", i), Perms: PermRead | PermMmap},
			Rule{Pattern: fmt.Sprintf("/etc/app%d/*.conf", i), Perms: PermRead},
		)
	}
	rules = append(rules,
		Rule{Pattern: "/{usr/,}lib{,32,64}/**.so*", Perms: PermRead | PermMmap},
		Rule{Pattern: "/proc/[0-9]*/{maps,stat,status,cmdline}", Perms: PermRead, Owner: true},
		Rule{Pattern: "/etc/app7/secret.conf", Perms: PermRead, Deny: true},
	)
	return rules
}

func BenchmarkSetAccess(b *testing.B) {
	set, err := NewSet(benchRules(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPath)))
	for b.Loop() {
		set.Access(benchPath, PermRead|PermMmap, false)
	}
}

func BenchmarkNewSet(b *testing.B) {
	rules := benchRules()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewSet(rules, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSetCovers(b *testing.B) {
	set, err := NewSet(benchRules(), nil)
	if err != nil {
		b.Fatal(err)
	}
	r := Rule{Pattern: "/usr/lib/app42/share/*.dat", Perms: PermRead}
	b.ReportAllocs()
	for b.Loop() {
		if res, _ := set.Covers(r, nil); res != Yes {
			b.Fatal(res)
		}
	}
}

// BenchmarkIntersect: what learn's sensitive guard asks for every learned
// pattern and table entry. Most pairs share no forced prefix (answered
// without a product); home and /proc patterns need one.
func BenchmarkIntersect(b *testing.B) {
	vars := VarMap(map[string][]string{"HOME": {"/home/*/", "/root/"}, "pid": {"[0-9]*"}})
	for _, tt := range []struct{ name, a, b string }{
		{"disjoint", "/opt/app103/data/*.json", "/etc/shadow"},
		{"home", "@{HOME}/.cache/app059/*.tmp", "{/root/,/home/*/}.ssh{,/,/**}"},
		{"proc", "/proc/@{pid}/task/@{pid}/stat", "/proc/{[0-9]*,self,thread-self}/{,task/[0-9]*/}mem"},
	} {
		a, err := Compile(tt.a, vars)
		if err != nil {
			b.Fatal(err)
		}
		p := MustCompile(tt.b)
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Intersect(a, p, nil)
			}
		})
	}
}
