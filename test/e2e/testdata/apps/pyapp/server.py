#!/usr/bin/python3
"""pyapp is the Python HTTP service of the profile library's runtime
profiles (profiles/python): http.server's SimpleHTTPRequestHandler serving a
content directory (files and directory listings) on a dual-stack port,
stopped cleanly on SIGTERM. It is started by its own path
(/opt/pyapp/server.py, through the #! line): that path is what the profile
attaches to.

/debug/rce?op=NAME simulates remote code execution in the process: it does
what an attacker with code execution in a Python service would do (read
/etc/shadow or root's SSH key, write a cron job, run a shell, open a raw
socket) and answers 200 when it worked, 500 with the error when not. Only
the attack probes of test/e2e use it; training never does.
"""

import functools
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.parse


def raw_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.close()
    return b"raw socket opened\n"


def write_cron():
    with open("/etc/cron.d/x", "w") as f:
        f.write("* * * * * root id\n")
    return b"written\n"


def read(name):
    with open(name, "rb") as f:
        return f.read()


ATTACKS = {
    "shadow": lambda: read("/etc/shadow"),
    "ssh-key": lambda: read("/root/.ssh/id_rsa"),
    "cron": write_cron,
    "shell": lambda: subprocess.run(["/bin/sh", "-c", "id"], check=True, capture_output=True).stdout,
    "raw-socket": raw_socket,
}


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/debug/rce":
            return super().do_GET()
        op = urllib.parse.parse_qs(url.query).get("op", [""])[0]
        attack = ATTACKS.get(op)
        if attack is None:
            self.send_error(400, "unknown op")
            return
        try:
            out, code = attack(), 200
        except Exception as e:  # the attack failed: say why
            out, code = (repr(e) + "\n").encode(), 500
        self.send_response(code)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6  # dual-stack: IPv4 too


def main():
    port = int(os.environ.get("PORT", "8083"))
    root = os.environ.get("ROOT", "/opt/pyapp/public")
    srv = Server(("::", port), functools.partial(Handler, directory=root))
    # shutdown() waits for serve_forever, so it runs on another thread.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    print(f"pyapp: serving {root} on [::]:{port}", flush=True)
    srv.serve_forever()
    srv.server_close()
    print("pyapp: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
