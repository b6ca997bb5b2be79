package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolve(t *testing.T) {
	vcs := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/armorer-dev/armorer", Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "1111111111111111111111111111111111111111"},
			{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	withVCS := func() (*debug.BuildInfo, bool) { return vcs, true }
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	for _, tc := range []struct {
		name    string
		v, c, d string
		read    func() (*debug.BuildInfo, bool)
		want    Info
	}{
		{
			name: "stamped release wins over the VCS stamp",
			v:    "v0.3.0", c: "2222222222222222222222222222222222222222", d: "2026-12-03T05:00:00Z",
			read: withVCS,
			want: Info{Version: "v0.3.0", Commit: "2222222222222222222222222222222222222222", Date: "2026-12-03T05:00:00Z", GoVersion: "go1.26.8"},
		},
		{
			name: "go build from a dirty checkout",
			read: withVCS,
			want: Info{Version: "(devel)", Commit: "1111111111111111111111111111111111111111", Date: "2026-12-01T10:00:00Z", GoVersion: "go1.26.8", Modified: true},
		},
		{
			name: "go install of a tagged module",
			read: func() (*debug.BuildInfo, bool) {
				return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.0.0"}}, true
			},
			want: Info{Version: "v1.0.0", GoVersion: "go1.26.8"},
		},
		{
			name: "no build info at all",
			read: none,
			want: Info{Version: "(devel)", GoVersion: runtime.Version()},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := resolve(tc.v, tc.c, tc.d, tc.read)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("resolve (-want +got):\n%s", d)
			}
		})
	}
}
