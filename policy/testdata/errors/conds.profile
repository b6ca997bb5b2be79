profile conds {
  signal set=(hup peer=foo) send, # ERROR "cannot mix values and conditionals|expected key=value"
  dbus peer=(name=a b), # ERROR "expected key=value inside peer"
  unix (send receive, # ERROR "missing '[)]'"
  umount -> /mnt, # ERROR "unexpected '->' in umount rule"
  userns create label=x, # ERROR "userns takes no conditionals"
  pivot_root /a /b, # ERROR "pivot_root takes one new root"
  network inet stream tcp udp, # ERROR "unexpected \"udp\" in network rule"
  signal -> x, # ERROR "unexpected '->' in signal rule"
  /ok r,
}
profile order {
  mount /dev/a options=(ro) -> /mnt/, # ERROR "conditional options must come before \"/dev/a\""
  mqueue r /q type=posix, # ERROR "conditional type must come before"
  mount options=(ro) /dev/a -> /mnt/,
}
