# Last Modified: Fri Dec  4 18:30:00 2026
abi <abi/3.0>,

include <tunables/global>

/opt/pyapp/server.py {
  include <abstractions/apache2-common>
  include <abstractions/base>
  include <abstractions/openssl>
  include <abstractions/python>

  /etc/host.conf r,
  /etc/hosts r,
  /etc/mime.types r,
  /etc/nsswitch.conf r,
  /etc/resolv.conf r,
  /opt/pyapp/ r,
  /opt/pyapp/public/about/index.html r,
  /opt/pyapp/public/blog/2026/ r,
  /opt/pyapp/public/blog/2026/first-post.html r,
  /opt/pyapp/public/css/site.css r,
  /opt/pyapp/public/data/report.json r,
  /opt/pyapp/public/docs/ r,
  /opt/pyapp/public/docs/guide.txt r,
  /opt/pyapp/public/docs/manual.bin r,
  /opt/pyapp/public/img/logo.png r,
  /opt/pyapp/public/index.html r,
  /opt/pyapp/server.py r,
  /usr/bin/python3.11 ix,

}
