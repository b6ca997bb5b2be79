# Last Modified: Fri Dec  4 18:29:58 2026
abi <abi/3.0>,

include <tunables/global>

/opt/nodeapp/server.js {
  include <abstractions/apache2-common>
  include <abstractions/base>
  include <abstractions/openssl>

  /etc/nsswitch.conf r,
  /etc/resolv.conf r,
  /opt/nodeapp/public/about/index.html r,
  /opt/nodeapp/public/blog/2026/ r,
  /opt/nodeapp/public/blog/2026/first-post.html r,
  /opt/nodeapp/public/css/site.css r,
  /opt/nodeapp/public/data/report.json r,
  /opt/nodeapp/public/docs/ r,
  /opt/nodeapp/public/docs/guide.txt r,
  /opt/nodeapp/public/docs/manual.bin r,
  /opt/nodeapp/public/img/logo.png r,
  /opt/nodeapp/public/index.html r,
  /opt/nodeapp/server.js r,
  /usr/bin/node ix,
  /usr/share/nodejs/acorn-walk/dist/walk.js r,
  /usr/share/nodejs/acorn/dist/acorn.js r,
  /usr/share/nodejs/cjs-module-lexer/dist/lexer.js r,
  /usr/share/nodejs/cjs-module-lexer/lexer.js r,
  /usr/share/nodejs/undici/undici-fetch.js r,

}
