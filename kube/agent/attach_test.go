package agent

import (
	"strings"
	"testing"
)

// A profile with a path attachment would confine the host processes it
// matches on every node: the agent refuses it (containers are attached by
// name) unless Config.AllowAttachments, and the other profiles still load.
func TestAttachmentRefused(t *testing.T) {
	attached := "abi <abi/3.0>,\ninclude <tunables/global>\n\nprofile x /** {\n  include <abstractions/base>\n}\n"
	for _, allow := range []bool{false, true} {
		n := newNode(t)
		cfg := n.config()
		cfg.AllowAttachments = allow
		a := New(cfg)
		atomicWrite(t, n.cm, map[string]string{"x": attached, "web": profile("web", "", "")})
		st := reconcile(t, a)
		p := byName(st)
		if p["web"].State != StateLoaded {
			t.Errorf("allow %v: web next to an attached profile: %+v", allow, p["web"])
		}
		_, loaded := n.loaded()["x"]
		if allow {
			if p["x"].State != StateLoaded || !loaded {
				t.Errorf("allowed attachment: %+v (kernel %v)", p["x"], n.loaded())
			}
			continue
		}
		if x := p["x"]; x.State != StateInvalid || loaded || !strings.Contains(x.Error, "attachment /**") || !strings.Contains(x.Error, "--allow-attachments") {
			t.Errorf("attachment: %+v (kernel %v)", x, n.loaded())
		}
	}
}
