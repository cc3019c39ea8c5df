#!/usr/bin/env python3
"""Smart HTTP on 127.0.0.1 through `git http-backend`, for bench/remote.sh.

Usage: smart-http.py ROOT LOG   (prints the port; appends "SENT <bytes>" per pack response to LOG)
The same server as tests/support/remote.rs, without the test modes. Responses are streamed
from git http-backend's stdout, so a pack is not held in memory.
"""
import http.server, os, socketserver, subprocess, sys

root, log = sys.argv[1], sys.argv[2]


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_one(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        path, _, query = self.path.partition("?")
        is_pack = b"command=fetch" in body or (b"want " in body and b"command=" not in body)
        env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1", PATH_INFO=path,
                   QUERY_STRING=query, REQUEST_METHOD=self.command, REMOTE_ADDR="127.0.0.1",
                   CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(len(body)))
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        proc = subprocess.Popen(["git", "http-backend"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        proc.stdin.write(body)
        proc.stdin.close()
        status, headers = 200, []
        while True:
            line = proc.stdout.readline().rstrip(b"\r\n")
            if not line:
                break
            k, _, v = line.decode().partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            else:
                headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = 0
        while True:
            chunk = proc.stdout.read1(1 << 16)
            if not chunk:
                break
            sent += len(chunk)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")
        proc.wait()
        if is_pack:
            with open(log, "a") as f:
                f.write("SENT %d\n" % sent)

    do_GET = do_POST = handle_one


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
