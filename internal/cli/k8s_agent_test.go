package cli

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewK8sAgentCmdFlags(t *testing.T) {
	io, _, _, _ := TestStreams()
	var got *k8sAgentOptions
	cmd := newK8sAgentCmd(&Factory{IO: io}, func(o *k8sAgentOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--profiles", "/etc/armorer/profiles", "--state-dir", "/s", "--includes", "/host/etc/apparmor.d",
		"--listen", ":1", "--attribution", "--source", "kmsg:", "--source", "netlink:", "--runtime-root", "/host", "--resync", "5s"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Profiles != "/etc/armorer/profiles" || got.StateDir != "/s" || got.Includes != "/host/etc/apparmor.d" || got.Listen != ":1" ||
		!got.Attribution || strings.Join(got.Sources, " ") != "kmsg: netlink:" || got.RuntimeRoot != "/host" || got.Resync != 5*time.Second {
		t.Errorf("options %+v", got)
	}
	cmd = newK8sAgentCmd(&Factory{IO: io}, func(o *k8sAgentOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--profiles", "p"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.StateDir != "/var/lib/armorer" || got.Includes != "/etc/apparmor.d" || got.Listen != ":9779" || got.Attribution || got.Resync != time.Minute {
		t.Errorf("defaults %+v", got)
	}
}

func TestK8sAgentUsage(t *testing.T) {
	io, _, _, _ := TestStreams()
	for _, o := range []*k8sAgentOptions{
		{IO: io, Resync: time.Minute},
		{IO: io, Profiles: "p", Resync: 0},
		{IO: io, Profiles: "p", Resync: time.Minute, Sources: []string{"kmsg:"}},
	} {
		var fe *FlagError
		if err := k8sAgentRun(o); !errors.As(err, &fe) {
			t.Errorf("%+v: %v, want a usage error", o, err)
		}
	}
}
