# A careful profile: no findings.
abi <abi/3.0>,

@{HOMEDIRS} = /home/
@{HOME} = @{HOMEDIRS}/*/ /root/

profile clean /opt/clean/bin/clean {
  /opt/clean/bin/clean mr,
  /opt/clean/lib/*.so* mr,
  /opt/clean/config r,
  owner /var/lib/clean/** rw,
  owner @{HOME}/.clean/** rw,
  /var/log/clean/*.log w,
  network inet stream,
  network inet6 stream,
  capability net_bind_service,
  /usr/bin/helper Px,
  /opt/clean/bin/tool ix,
  signal (send) set=(term) peer=clean,
  audit deny /etc/** w,
}
