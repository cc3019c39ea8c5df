//! Running child processes: to completion, checked, or with a deadline.

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The command line, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs a command, returning its output whatever the exit status.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(cmd)))
}

/// Runs a command that must succeed; returns its stdout, trimmed.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "`{}` failed ({}):\n{}\n{}",
        describe(cmd),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8").trim().to_owned()
}

/// Runs `cmd` (stdin: nothing) with a deadline: a hang is a test failure, not a stuck test.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Result<Output, String> {
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| e.to_string())?;
    wait_bounded(child, limit)
}

/// Runs `cmd` to completion, panicking when it takes longer than `limit`.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(&cmd)));
    wait_bounded(child, limit).unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

/// Collects the child's output (on a thread, so that a full pipe cannot stall it) until `limit`;
/// kills it then.
fn wait_bounded(child: Child, limit: Duration) -> Result<Output, String> {
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.map_err(|e| e.to_string()),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
            Err(format!("did not finish within {limit:?}"))
        }
    }
}

/// Starts `cmd`, a server that prints the port it listens on as its first line (the loopback
/// servers in `support::remote` and `tests/lfs_support`), with git's configuration files out of
/// its way; waits at most 20 s for the port.
pub fn spawn_server(cmd: &mut Command, what: &str) -> (Child, u16) {
    use std::io::{BufRead, BufReader};
    let mut child = cmd
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{what} does not start: {err}"));
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("{what} reports its port within 20 s"));
    (child, line.trim().parse().unwrap_or_else(|_| panic!("{what} printed {line:?}, not a port")))
}
