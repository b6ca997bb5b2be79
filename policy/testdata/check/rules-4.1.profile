# Semantic errors Check reports for target 4.1 (from the abi line).
abi <abi/4.0>,
include <tunables/global>

profile rules4 {
  userns,
  userns create,
  userns destroy, # ERROR "unknown userns access \"destroy\""
  io_uring (override_creds, sqpoll) label=foo,
  io_uring fly, # ERROR "unknown io_uring access \"fly\""
  mqueue (create, open, read) type=posix /foo,
  mqueue type=windows, # ERROR "mqueue type must be posix or sysv"
  all,
  priority=-5 capability chown,
  priority=5000 /etc/p r, # ERROR "priority must be an integer from -1000 to 1000"
  priority=high /etc/p r, # ERROR "priority must be an integer"
  priority=2 network inet stream, # ERROR "priority= is not supported on network rules"
  network (create, connect) inet stream,
  network inet stream ip=300.1.1.1, # ERROR "ip=300.1.1.1 is not an IP address"
  network inet stream port=80 peer=(ip=10.0.0.1 port=53),
  network (fly) inet, # ERROR "unknown network access \"fly\""
  deny {
    /etc/shadow r,
  }
  if defined $X { # ERROR "boolean \\$X is not defined"
  }
}
