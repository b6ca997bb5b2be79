package auditlog

import "strings"

// LabelMatches reports whether the label of an event (profile= or label=)
// belongs to profile p: the label is p, a child or hat of p ("p//…"), or a
// stack ("a//&b") one of whose members is either. A label in a policy
// namespace (":ns:p") matches p too.
func LabelMatches(label, p string) bool {
	if p == "" {
		return false
	}
	for label != "" {
		member := label
		if i := strings.Index(label, "//&"); i >= 0 {
			member, label = label[:i], label[i+3:]
		} else {
			label = ""
		}
		member = strings.TrimSpace(member)
		if len(member) > 0 && member[0] == ':' { // ":ns:profile" or ":ns://profile"
			if j := strings.IndexByte(member[1:], ':'); j >= 0 {
				member = strings.TrimPrefix(member[j+2:], "//")
			}
		}
		member = strings.TrimSuffix(member, " (complain)")
		member = strings.TrimSuffix(member, " (enforce)")
		if member == p || strings.HasPrefix(member, p+"//") {
			return true
		}
	}
	return false
}
