# Semantic errors Check reports for target 3.0 (the default without an abi line).
include <tunables/global>

profile rules /usr/bin/rules {
  capability chown bogus, # ERROR "unknown capability \"bogus\""
  capability CAP_CHOWN, # ERROR "unknown capability \"CAP_CHOWN\".*write chown"
  /bin/a ix,
  /bin/a Px, # ERROR "conflicting exec modes for /bin/a: ix at .* and Px here"
  /bin/b rix,
  /bin/b mix,
  /bin/c x, # ERROR "a bare x needs an exec mode"
  deny /bin/d ix, # ERROR "deny rules take x"
  /bin/e ixpx, # ERROR "more than one exec mode"
  /var/log/f wa, # ERROR "w and a conflict"
  /etc/g rz, # ERROR "invalid permission 'z'"
  /etc/h zx, # ERROR "invalid permission"
  etc/relative r, # ERROR "unexpected \"etc/relative\""
  /usr/{lib,lib64/x r, # ERROR "unbalanced '{'"
  /dev/tty[0-9 r, # ERROR "unterminated character class"
  @{NOPE}/x r, # ERROR "variable @\\{NOPE\\} is not defined"
  @{HOME}/ok r,
  owner capability chown, # ERROR "owner applies only to file and link rules"
  network inet7, # ERROR "unknown network family, type or protocol \"inet7\""
  network inet stream tcp, # ERROR "not both"
  network packet raw,
  network tcp,
  network inet stream ip=127.0.0.1, # ERROR "network access lists and ip=/port=/peer= need AppArmor 4"
  signal send set=(hup sigterm), # ERROR "unknown signal \"sigterm\""
  signal send set=(rtmin+33), # ERROR "unknown signal \"rtmin\\+33\""
  signal kill, # ERROR "unknown signal access \"kill\""
  ptrace (attach), # ERROR "unknown ptrace access \"attach\""
  ptrace read peer=a peer=b, # ERROR "ptrace conditional peer given twice"
  unix (fly), # ERROR "unknown unix access \"fly\""
  unix type=stream type=dgram, # ERROR "given twice"
  unix peer=label=foo, # ERROR "expected .,. at the end of the rule"
  dbus bind path=/org/foo, # ERROR "dbus bind takes only bus= and name="
  dbus eavesdrop path=/org/foo, # ERROR "dbus eavesdrop takes only bus="
  dbus send name=org.foo, # ERROR "does not take name="
  mount options=(rox) -> /mnt/, # ERROR "unknown mount option \"rox\""
  mount options=ro options in (nodev) -> /mnt/,
  umount /dev/foo -> /mnt/, # ERROR "unexpected .->. in umount rule"
  set rlimit nice <= 25, # ERROR "a number from -20 to 19"
  set rlimit cpu <= 10ms, # ERROR "a time of at least seconds"
  set rlimit nproc <= 10K, # ERROR "a plain non-negative number"
  set rlimit bogus <= 1, # ERROR "unknown rlimit \"bogus\""
  set rlimit as <= 1G,
  userns, # ERROR "userns rules need AppArmor 4 \\(target 3.0\\)"
  io_uring, # ERROR "io_uring rules need AppArmor 4"
  mqueue, # ERROR "mqueue rules need AppArmor 4"
  all, # ERROR "all rules need AppArmor 4"
  priority=1 /etc/p r, # ERROR "priority= needs AppArmor 4"
  deny { # ERROR "a deny \\{ … \\} block needs AppArmor 4"
    /etc/shadow r,
  }
  change_profile -> other,
  if $NOBOOL { # ERROR "boolean \\$NOBOOL is not defined"
  }
}
