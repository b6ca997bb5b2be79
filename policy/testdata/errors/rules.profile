# Syntax errors inside a profile: each is reported on its line and the
# parser recovers at the next rule.
profile errs /usr/bin/errs {
  /etc/passwd r # ERROR "missing ',' at the end of the rule"
  /etc/group r,
  deny audit /etc/shadow r, # ERROR "qualifier \"audit\" out of order"
  /etc/hosts, # ERROR "expected permissions after /etc/hosts"
  set rlimit nofile 1024, # ERROR "expected '<='"
  priority=, # ERROR "expected a word"
  %weird, # ERROR "unexpected \"%weird\""
  r w, # ERROR "unknown rule \"r\""
  include if /x # ERROR "expected 'exists' after 'include if'"
  link /a /b, # ERROR "expected '->'"
  /etc/ok r,
}
