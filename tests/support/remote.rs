//! The remote tests' world: a scratch area with a deterministic served repository, loopback
//! servers (smart HTTP through `git http-backend`, `git daemon`, ssh through a fake
//! `GIT_SSH_COMMAND`), and Nix 2.8's fetchGit of a URL. Every wait is bounded.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::git::{commit_at, git};
use super::isolation::isolate_in;
use super::process::{run_bounded, spawn_server};

/// A scratch area: `root/srv/repo.git` (bare, served), `root/home` (the client's HOME).
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("srv")).expect("srv");
        std::fs::create_dir_all(dir.path().join("home")).expect("home");
        Scratch { dir }
    }
    pub fn srv(&self) -> PathBuf {
        self.dir.path().join("srv")
    }
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    pub fn repo(&self) -> PathBuf {
        self.srv().join("repo.git")
    }
    pub fn cache_git(&self) -> PathBuf {
        self.home().join(".cache/fetchgit-date/v1/git")
    }
}

/// Commits per day for 30 days on `main` (one file per day, some merges from `side`), a tag,
/// and an unrelated branch `other`; returns the bare repository's path.
pub fn make_fixture(scratch: &Scratch, days: u32) -> PathBuf {
    let work = scratch.dir.path().join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    git(&work, &["init", "-q", "-b", "main"]);
    let base = 1_600_000_000i64;
    for day in 0..days {
        let body: String = (0..200).map(|i| format!("day {day} line {i} {}\n", i * day as usize)).collect();
        std::fs::write(work.join(format!("file{day}.txt")), body).expect("write file");
        commit_at(&work, base + i64::from(day) * 86_400, &format!("day {day}"));
        if day == 5 {
            git(&work, &["tag", "-a", "v1", "-m", "v1"]);
        }
    }
    git(&work, &["checkout", "-q", "--orphan", "other"]);
    git(&work, &["rm", "-rfq", "."]);
    std::fs::write(work.join("other.txt"), "other\n").expect("write");
    commit_at(&work, base + i64::from(days + 1) * 86_400, "unrelated");
    git(&work, &["checkout", "-q", "main"]);
    let bare = scratch.repo();
    git(scratch.dir.path(), &["clone", "-q", "--bare", work.to_str().expect("utf-8"), bare.to_str().expect("utf-8")]);
    git(&bare, &["config", "uploadpack.allowReachableSHA1InWant", "true"]);
    git(&bare, &["config", "uploadpack.allowFilter", "true"]);
    bare
}

/// A server process, killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Requests whose body asked the server for a pack (`command=fetch`, or a v0/v1 `want`).
    pub fn pack_requests(&self) -> usize {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().filter(|l| l.starts_with("PACK")).count()
    }

    /// Bytes of all responses to pack requests so far (the HTTP server's log).
    pub fn pack_bytes(&self) -> u64 {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("SENT "))
            .map(|n| n.parse::<u64>().expect("a byte count"))
            .sum()
    }
}

const HTTP_SERVER: &str = r#"
import http.server, os, subprocess, sys, socketserver, ssl
import time
root, log, mode = sys.argv[1], sys.argv[2], sys.argv[3]
slow = mode == "1"

def pkt_lines(data):
    """Splits pkt-line data into (kind, payload) items; None when it is not pkt-lines."""
    out, i = [], 0
    while i < len(data):
        try: n = int(data[i:i + 4], 16)
        except ValueError: return None
        if n < 4: out.append((n, b"")); i += 4; continue
        if i + n > len(data): return None
        out.append((n, data[i + 4:i + n])); i += n
    return out

def pkt_join(items):
    return b"".join(b"%04x" % n if n < 4 else b"%04x" % (len(p) + 4) + p for n, p in items)

def rewrite(data, fn):
    items = pkt_lines(data)
    return data if items is None else pkt_join([(n, fn(p)) if n >= 4 else (n, p) for n, p in items])

SHALLOW_CAPS = {b"shallow", b"deepen-since", b"deepen-not", b"deepen-relative"}
def strip_shallow(p):
    # protocol v2 capability line, and the capability list after NUL in v0's first ref line
    if p.startswith(b"fetch="):
        words = [w for w in p[6:].strip().split(b" ") if w not in SHALLOW_CAPS]
        return b"fetch=" + b" ".join(words) + b"\n"
    if b"\0" in p:
        head, _, caps = p.partition(b"\0")
        return head + b"\0" + b" ".join(w for w in caps.strip().split(b" ") if w not in SHALLOW_CAPS) + b"\n"
    return p

def since_as_depth(p):
    # a server that cuts history its own way: deepen-since becomes depth 1
    return b"deepen 1\n" if p.startswith(b"deepen-since ") else p

AUTH = os.environ.get("FGD_AUTH")

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def handle_one(self):
        if AUTH is not None:
            import base64
            good = "Basic " + base64.b64encode(AUTH.encode()).decode()
            ok = self.headers.get("Authorization") == good
            with open(log, "a") as f: f.write("REQ %s %s\n" % ("auth-ok" if ok else "auth-missing" if self.headers.get("Authorization") is None else "auth-wrong", self.path))
            if not ok:
                length = int(self.headers.get("Content-Length", "0") or 0)
                if length: self.rfile.read(length)
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="fgd"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline(); break
                body += self.rfile.read(size); self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        path, _, query = self.path.partition("?")
        is_pack = b"command=fetch" in body or (b"want " in body and b"command=" not in body)
        if is_pack:
            with open(log, "a") as f: f.write("PACK " + path + "\n")
        if mode == "since-as-depth" and self.headers.get("Content-Encoding") is None:
            body = rewrite(body, since_as_depth)
        env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1", PATH_INFO=path,
                   QUERY_STRING=query, REQUEST_METHOD=self.command, REMOTE_ADDR="127.0.0.1",
                   CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(len(body)))
        if self.headers.get("Git-Protocol") and mode != "v0": env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        if self.headers.get("Content-Encoding"): env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        if mode == "noshallow" and path.endswith("/info/refs"):
            payload = rewrite(payload, strip_shallow)
        status, headers = 200, []
        for line in head.split(b"\r\n"):
            k, _, v = line.decode().partition(":")
            if k.lower() == "status": status = int(v.strip().split()[0])
            elif k: headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if slow and b"PACK" in payload[:64] or slow and len(payload) > 4096:
            for i in range(0, len(payload), 512):
                self.wfile.write(payload[i:i + 512]); self.wfile.flush(); time.sleep(0.02)
        else:
            self.wfile.write(payload)
        if is_pack:
            with open(log, "a") as f: f.write("SENT %d\n" % len(payload))
    do_GET = do_POST = handle_one
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
if os.environ.get("FGD_TLS_CERT"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.environ["FGD_TLS_CERT"], os.environ["FGD_TLS_KEY"])
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

/// Smart HTTP on 127.0.0.1 serving `root` through `git http-backend`.
pub fn http_server(scratch: &Scratch) -> Server {
    http_server_with(scratch, false)
}

/// Like [`http_server`]; with `slow`, pack responses trickle out at about 25 KiB/s.
pub fn http_server_with(scratch: &Scratch, slow: bool) -> Server {
    http_server_mode(scratch, if slow { "1" } else { "0" }, None)
}

/// Like [`http_server`], in a `mode`: `0` plain, `1` slow, `noshallow` (a smart server that does
/// not advertise shallow support), `since-as-depth` (answers `deepen-since` as `deepen 1`, i.e.
/// cuts history its own way), `v0` (protocol v0 only); with `tls` = (certificate chain, key),
/// https.
pub fn http_server_mode(scratch: &Scratch, mode: &str, tls: Option<(&Path, &Path)>) -> Server {
    spawn_http_server(scratch, mode, tls, None)
}

/// Like [`http_server`], answering only requests with HTTP basic authentication for
/// `user:password` (401 otherwise); every request is logged as `REQ auth-ok|auth-missing|auth-wrong PATH`.
pub fn http_server_with_auth(scratch: &Scratch, user_password: &str) -> Server {
    spawn_http_server(scratch, "0", None, Some(user_password))
}

fn spawn_http_server(scratch: &Scratch, mode: &str, tls: Option<(&Path, &Path)>, auth: Option<&str>) -> Server {
    let script = scratch.dir.path().join("http_server.py");
    std::fs::write(&script, HTTP_SERVER).expect("write server");
    let log = scratch.dir.path().join(format!("http-{mode}-{}.log", tls.is_some()));
    let mut cmd = Command::new("python3");
    if let Some((cert, key)) = tls {
        cmd.env("FGD_TLS_CERT", cert).env("FGD_TLS_KEY", key);
    }
    if let Some(auth) = auth {
        cmd.env("FGD_AUTH", auth);
    }
    let (child, port) = spawn_server(cmd.arg(&script).arg(scratch.srv()).arg(&log).arg(mode), "the HTTP server");
    Server { child, port, log }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server on port {port} did not come up within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `git daemon` on 127.0.0.1 exporting `root`. It runs `git-daemon` from git's exec path
/// itself: `git daemon` runs it as a child process, which dropping the [`Server`] (killing
/// `git`) would leave running, an orphan holding the port and whatever descriptors it inherited.
pub fn git_daemon(scratch: &Scratch) -> Server {
    let port = free_port();
    let log = scratch.dir.path().join("daemon.log");
    let exec_path = Command::new("git").arg("--exec-path").output().expect("git --exec-path");
    let exec_path = PathBuf::from(String::from_utf8(exec_path.stdout).expect("a UTF-8 path").trim());
    let child = Command::new(exec_path.join("git-daemon"))
        .args(["--reuseaddr", "--export-all", "--verbose", "--listen=127.0.0.1"])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", scratch.srv().display()))
        .arg(scratch.srv())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("git daemon runs");
    let server = Server { child, port, log };
    wait_for_port(port);
    server
}

/// A fake `ssh`: logs its arguments and runs the requested `git-upload-pack` locally, without
/// a shell. Returns the value for `GIT_SSH_COMMAND`.
pub fn fake_ssh(scratch: &Scratch) -> (String, PathBuf) {
    let script = scratch.dir.path().join("fake-ssh");
    let log = scratch.dir.path().join("ssh.log");
    let text = format!(
        r#"#!/usr/bin/env python3
import os, shlex, sys
with open({log:?}, "a") as f: f.write(repr(sys.argv[1:]) + "\n")
args = sys.argv[1:]
start = next(i for i, a in enumerate(args) if a.startswith("git-upload-pack") or a.startswith("git upload-pack"))
words = shlex.split(" ".join(args[start:])) if len(args) > start + 1 else shlex.split(args[start])
os.execvp("git", ["git", "upload-pack", words[-1]])
"#,
        log = log.display().to_string()
    );
    std::fs::write(&script, text).expect("write fake ssh");
    let mut perms = std::fs::metadata(&script).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).expect("chmod");
    (script.display().to_string(), log)
}

/// [`fake_ssh`] installed as `<scratch>/openssh/ssh`, so that it is run as OpenSSH (gix and git
/// pick the ssh variant by the program's name). Returns the value for `GIT_SSH_COMMAND`.
pub fn fake_openssh(scratch: &Scratch) -> (String, PathBuf) {
    let (fake, log) = fake_ssh(scratch);
    let dir = scratch.dir.path().join("openssh");
    std::fs::create_dir_all(&dir).expect("dir");
    let ssh = dir.join("ssh");
    std::fs::copy(&fake, &ssh).expect("copy");
    (ssh.display().to_string(), log)
}

/// Requests the authenticating HTTP server logged, by outcome (`auth-ok`, `auth-missing`,
/// `auth-wrong`).
pub fn auth_requests(server: &Server, outcome: &str) -> usize {
    let prefix = format!("REQ {outcome} ");
    std::fs::read_to_string(&server.log).unwrap_or_default().lines().filter(|l| l.starts_with(&prefix)).count()
}

/// `builtins.fetchGit { url; ref; rev? }` with Nix 2.8 in a fresh HOME, `outPath` as a string.
pub fn nix_fetchgit(scratch: &Scratch, url: &str, extra: &str) -> serde_json::Value {
    let home = scratch.dir.path().join("nix-home");
    std::fs::create_dir_all(&home).expect("nix home");
    let expr = format!("let r = builtins.fetchGit {{ url = \"{url}\"; {extra} }}; in removeAttrs r [\"outPath\"] // {{ storePath = r.outPath; }}");
    let mut cmd = Command::new("nix-instantiate");
    isolate_in(&mut cmd, &home).args(["--eval", "--strict", "--json", "-E", &expr]);
    let out = run_bounded(cmd, Duration::from_secs(300));
    assert!(out.status.success(), "nix-instantiate failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let obj = v.as_object_mut().expect("attrs");
    let path = obj.remove("storePath").expect("storePath");
    obj.insert("outPath".into(), path);
    v
}

/// Compares the attributes Nix 2.8 returns with ours (ours has no extra keys but `truncation`).
pub fn assert_same_as_nix(ours: &serde_json::Value, nix: &serde_json::Value, what: &str) {
    for (key, value) in nix.as_object().expect("attrs") {
        assert_eq!(ours.get(key), Some(value), "{what}: attribute {key} differs (ours: {ours}, Nix: {nix})");
    }
}
