package main

import (
	"os/exec"
	"testing"
)

func TestDebVersion(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"v1.2.3", "1.2.3"},
		{"1.2.3", "1.2.3"},
		{"v1.2.3-rc.1", "1.2.3~rc.1"},
		{"v1.2.3-rc-1", "1.2.3~rc.1"},
		{"v0.0.0-20261203050000-9ea949b0c1d2", "0.0.0~git20261203050000.9ea949b0c1d2"},
		{"v1.2.4-0.20261203050000-9ea949b0c1d2", "1.2.4~git20261203050000.9ea949b0c1d2"},
		{"v1.2.3-4-gabc1234", "1.2.3+git4.abc1234"},
		{"v1.2.3-rc.1-4-gabc1234", "1.2.3~rc.1+git4.abc1234"},
	} {
		got, err := debVersion(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("debVersion(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "(devel)", "9ea949b", "v1.2"} {
		if got, err := debVersion(bad); err == nil {
			t.Errorf("debVersion(%q) = %q, want an error", bad, got)
		}
	}
}

// dpkg orders the converted versions as Go orders the originals.
func TestDebVersionOrder(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("needs dpkg")
	}
	order := []string{ // ascending
		"v0.0.0-20261203050000-9ea949b0c1d2",
		"v1.2.3-rc.1",
		"v1.2.3",
		"v1.2.3-4-gabc1234",
		"v1.2.4-0.20261203050000-9ea949b0c1d2",
		"v1.2.4",
	}
	for i := 1; i < len(order); i++ {
		a, _ := debVersion(order[i-1])
		b, _ := debVersion(order[i])
		if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg: %s is not before %s (from %s, %s)", a, b, order[i-1], order[i])
		}
	}
}
