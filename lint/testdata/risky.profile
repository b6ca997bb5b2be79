# Each "want" comment names the findings expected on its line.
abi <abi/3.0>,

@{APPDIR} = /opt/app /srv/app
@{HOMEDIRS} = /home/
@{HOME} = @{HOMEDIRS}/*/ /root/

profile risky /opt/app/bin/risky {
  /opt/app/bin/risky mr,
  @{APPDIR}/plugins/** rw,
  @{APPDIR}/plugins/*.so m, # want "L002"
  /opt/app/tmp/run wix, # want "L002"
  /opt/app/drop/a* w,
  /opt/app/drop/*.so m, # want "L002"
  /usr/bin/helper ux, # want "L003"
  /usr/bin/other PUx, # want "L003"
  /usr/bin/worker px, # want "L004"
  /usr/bin/clean Px,
  /usr/bin/child cix, # want "L004"
  capability net_bind_service,
  capability setuid sys_admin, # want "L005" "L005"
  capability, # want "L005"
  network inet stream,
  network inet raw, # want "L006"
  network packet, # want "L006"
  network, # want "L006"
  /** rw, # want "L002" "L007" "L008"
  /{,**} r, # want "L008"
  /etc/shadow r, # want "L008"
  /etc/myapp.conf w, # want "L008"
  /etc/myapp.conf r,
  /etc/cron.d/* w, # want "L008"
  /usr/lib/app/** w, # want "L008"
  /boot/grub/** w, # want "L008"
  /root/** r, # want "L008"
  @{HOME}/.config/app/** rw,
  @{HOME}/** rw, # want "L008"
  owner /home/*/.ssh/id_* r, # want "L008"
  /proc/*/mem r, # want "L008"
  link /tmp/shadow -> /etc/shadow, # want "L008"
  link subset /tmp/docker -> /{,var/}run/docker.sock, # want "L008"
  link /tmp/a -> /srv/app/a,
  ptrace (trace), # want "L009"
  ptrace (read) peer=risky,
  signal (send) peer=unconfined, # want "L009"
  signal (receive),
  signal (send) set=(term) peer=risky//worker,
  deny /etc/passwd w, # want "L010"
  audit deny /etc/group w,
  change_profile -> risky//worker,
  change_profile, # want "L013"
  change_profile -> unconfined, # want "L013"
  change_profile /usr/bin/x -> **, # want "L013"
  mount, # want "L013"
  mount fstype=tmpfs -> /opt/app/tmp/, # want "L013"
  umount /opt/app/tmp/, # want "L013"
  pivot_root, # want "L013"
  audit deny mount,
  owner {
    deny @{APPDIR}/secret r, # want "L010"
  }

  profile worker {
    /opt/app/cache/** rwm, # want "L002"
  }
}
