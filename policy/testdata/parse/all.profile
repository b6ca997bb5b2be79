# Every kind of node, for the Walk test and the Fprint golden.
abi <abi/4.0>,
#include <tunables/global>
@{X} = /a /b
@{X} += /c
$b = true
alias /usr/ -> /mnt/usr/,

# detached

profile all /usr/bin/all xattrs=(security.x=y) flags=(complain) { # open
  /etc/a r, # line
  file /b rw -> t,
  link subset /l -> /m,
  capability chown,
  network (bind) inet stream ip=1.2.3.4,
  signal send set=(hup) peer=x,
  ptrace read peer=x,
  unix send peer=(label=x),
  dbus send bus=session,
  mount options in (ro) /dev/a -> /b/,
  pivot_root oldroot=/o/ /n/ -> p,
  change_profile safe /x -> y,
  set rlimit nofile <= 10,
  userns create,
  io_uring sqpoll,
  mqueue r type=posix /q,
  priority=1 audit deny owner all,
  owner { /o r, }
  if $b { /i r, } else { /e r, }
  ^hat { }
  newkind a b,
  /broken
}
