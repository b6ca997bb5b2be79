package learn

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// mergeBounded keeps what adding each value with addBounded keeps.
func TestMergeBoundedIsAddBounded(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	list := func() []string {
		var s []string
		for range r.IntN(6) {
			s = addBounded(s, strconv.Itoa(r.IntN(8)), strings.Compare)
		}
		return s
	}
	for range 2000 {
		s, u := list(), list()
		want := slices.Clone(s)
		for _, x := range u {
			want = addBounded(want, x, strings.Compare)
		}
		if got := mergeBounded(s, u, strings.Compare); !slices.Equal(got, want) {
			t.Fatalf("mergeBounded(%q, %q) = %q, want %q", s, u, got, want)
		}
	}
}
