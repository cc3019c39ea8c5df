#!/usr/bin/env python3
"""A Git LFS server (batch API, basic transfer) and smart-HTTP git server on 127.0.0.1, for
tests/lfs_fetch.rs.

Usage: lfs_server.py OBJECTS GIT_ROOT LOG MODE   (prints the port)
  OBJECTS   directory of LFS objects, one file per oid
  GIT_ROOT  repositories served by `git http-backend` at /<name>
  LOG       one line per request: "BATCH <path>", "GET <oid>"
  MODE      plain | auth (the batch API wants Basic user:s3cr/t) | corrupt (objects are served
            with one byte changed) | wrong-size (the batch answer claims another size)
Downloads need the Authorization header the batch answer hands out.
"""
import base64, http.server, json, os, socketserver, subprocess, sys

objects, git_root, log, mode = sys.argv[1:5]
TOKEN = "Bearer download-t0ken"


def note(line):
    with open(log, "a") as f:
        f.write(line + "\n")


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body, ctype="application/vnd.git-lfs+json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))

    def do_POST(self):
        if self.path.endswith("/objects/batch"):
            return self.batch()
        return self.git(self.body())

    def do_GET(self):
        if self.path.startswith("/objects/"):
            return self.download(self.path[len("/objects/"):])
        return self.git(b"")

    def batch(self):
        body = json.loads(self.body())
        note("BATCH " + self.path)
        if mode == "auth":
            want = "Basic " + base64.b64encode(b"user:s3cr/t").decode()
            if self.headers.get("Authorization") != want:
                return self.reply(401, b'{"message": "credentials needed"}')
        port = self.server.server_address[1]
        answer = []
        for obj in body["objects"]:
            path = os.path.join(objects, obj["oid"])
            if not os.path.isfile(path):
                answer.append({"oid": obj["oid"], "size": obj["size"], "error": {"code": 404, "message": "Object does not exist"}})
                continue
            size = os.path.getsize(path) + (1 if mode == "wrong-size" else 0)
            href = "http://127.0.0.1:%d/objects/%s" % (port, obj["oid"])
            answer.append({"oid": obj["oid"], "size": size, "actions": {"download": {"href": href, "header": {"Authorization": TOKEN}}}})
        self.reply(200, json.dumps({"transfer": "basic", "objects": answer}).encode())

    def download(self, oid):
        note("GET " + oid)
        if self.headers.get("Authorization") != TOKEN:
            return self.reply(403, b"no token", "text/plain")
        data = open(os.path.join(objects, oid), "rb").read()
        if mode == "corrupt":
            data = bytes([data[0] ^ 1]) + data[1:]
        self.reply(200, data, "application/octet-stream")

    def git(self, body):
        path, _, query = self.path.partition("?")
        env = dict(os.environ, GIT_PROJECT_ROOT=git_root, GIT_HTTP_EXPORT_ALL="1", PATH_INFO=path,
                   QUERY_STRING=query, REQUEST_METHOD=self.command, REMOTE_ADDR="127.0.0.1",
                   CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(len(body)))
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.split(b"\r\n"):
            k, _, v = line.decode().partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
