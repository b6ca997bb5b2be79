profile lex {
  # ERROR below "unterminated quoted string"
  "/tmp/unterminated r,
  /etc/ok r,
}
# ERROR below "unterminated <...> path"
include <abstractions/base
