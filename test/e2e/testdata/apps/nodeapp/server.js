#!/usr/bin/node
// nodeapp is the Node.js HTTP service of the profile library's runtime
// profiles (profiles/node): it serves a content directory (files and
// directory listings) on a dual-stack port and stops cleanly on SIGTERM.
// It is started by its own path (/opt/nodeapp/server.js, through the #!
// line): that path is what the profile attaches to.
//
// /debug/rce?op=NAME simulates remote code execution in the process: it
// does what an attacker with code execution in a Node service would do
// (read /etc/shadow or root's SSH key, write a cron job, run a shell) and
// answers 200 when it worked, 500 with the error when not. Node has no API
// for raw sockets: an attacker needs native code for one, so op=raw-socket
// loads a native addon (/tmp/raw.node, whose constructor opens a raw
// socket) with process.dlopen, the one way in without a child process.
// Only the attack probes of test/e2e use it; training never does.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const childProcess = require('child_process');

const port = Number(process.env.PORT || 8082);
const root = process.env.ROOT || '/opt/nodeapp/public';

const types = { '.html': 'text/html', '.css': 'text/css', '.js': 'text/javascript', '.json': 'application/json', '.png': 'image/png', '.txt': 'text/plain' };

const attacks = {
  'shadow': () => fs.readFileSync('/etc/shadow'),
  'ssh-key': () => fs.readFileSync('/root/.ssh/id_rsa'),
  'cron': () => { fs.writeFileSync('/etc/cron.d/x', '* * * * * root id\n'); return 'written\n'; },
  'shell': () => childProcess.execFileSync('/bin/sh', ['-c', 'id']),
  'raw-socket': () => {
    try {
      process.dlopen({ exports: {} }, '/tmp/raw.node');
    } catch (err) {
      // Not an addon Node can use, but its constructor has run.
      if (!String(err).includes('did not self-register')) throw err;
    }
    return 'loaded\n';
  },
};

function rce(req, res, url) {
  const attack = attacks[url.searchParams.get('op')];
  if (!attack) {
    res.writeHead(400);
    res.end('unknown op\n');
    return;
  }
  try {
    const out = attack();
    res.writeHead(200);
    res.end(out);
  } catch (err) {
    res.writeHead(500);
    res.end(String(err) + '\n');
  }
}

function serve(req, res, url) {
  const rel = path.normalize(decodeURIComponent(url.pathname));
  const file = path.join(root, rel);
  if (!file.startsWith(root)) {
    res.writeHead(403);
    res.end('forbidden\n');
    return;
  }
  fs.stat(file, (err, st) => {
    if (err) {
      res.writeHead(404);
      res.end('not found\n');
      return;
    }
    if (st.isDirectory()) {
      const index = path.join(file, 'index.html');
      if (fs.existsSync(index)) {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        fs.createReadStream(index).pipe(res);
        return;
      }
      const names = fs.readdirSync(file).sort();
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<ul>' + names.map((n) => `<li><a href="${encodeURI(n)}">${n}</a></li>`).join('') + '</ul>\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream', 'Content-Length': st.size });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    fs.createReadStream(file).pipe(res);
  });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/debug/rce') {
    rce(req, res, url);
  } else {
    serve(req, res, url);
  }
});

process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});

server.listen(port, '::', () => console.log(`nodeapp: serving ${root} on [::]:${port}`));
