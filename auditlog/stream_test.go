package auditlog

import (
	"strings"
	"testing"
)

// Lost-event accounting over sequences of the kernel's notices.
func TestStreamLost(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines string
		want  uint64
	}{
		{"suppressed adds N", "kauditd_printk_skb: 7 callbacks suppressed\naudit_printk_skb: 3 callbacks suppressed", 10},
		{"other subsystems' suppressions do not count", "net_ratelimit: 40 callbacks suppressed\nx: 2 callbacks suppressed", 0},
		{"first reading is one loss", "audit: audit_lost=41 audit_rate_limit=0 audit_backlog_limit=64", 1},
		{"readings count increases, never sums", "audit: audit_lost=41 audit_rate_limit=0 audit_backlog_limit=64\naudit: audit_lost=45 audit_rate_limit=0 audit_backlog_limit=64\naudit: audit_lost=45 audit_rate_limit=0 audit_backlog_limit=64", 1 + 4},
		{"a reset counter (reboot) counts from zero", "audit: audit_lost=41 audit_rate_limit=0 audit_backlog_limit=64\naudit: audit_lost=3 audit_rate_limit=0 audit_backlog_limit=64", 1 + 3},
		{"the notice after a reading is that reading's loss", "audit: audit_lost=1 audit_rate_limit=0 audit_backlog_limit=64\naudit: rate limit exceeded", 1},
		{"a notice alone is one loss", "audit: backlog limit exceeded\naudit: rate limit exceeded", 2},
		{"notices without readings are part of the next increase", "audit: audit_lost=1 audit_rate_limit=0 audit_backlog_limit=64\naudit: rate limit exceeded\naudit: rate limit exceeded\naudit: audit_lost=3 audit_rate_limit=0 audit_backlog_limit=64", 1 + 1 + 1},
		{"other rate limits do not count", "net: rate limit exceeded\naudit_lost=5", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tc.lines), ReaderOptions{})
			for r.Next() {
			}
			if got := r.Stats().Lost; got != tc.want {
				t.Errorf("lost %d, want %d", got, tc.want)
			}
		})
	}
}
