//! One fetch into a cache repository over the bounded transports of [`super::transport`]:
//! gix's negotiation, credentials from the URL or git's helpers, and failures sorted into what
//! the user can act on.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use gix::ObjectId;

use crate::error_chain;
use crate::url::RemoteUrl;

use super::cache_dir::{open_cache, ref_target, sanitize_shallow, stamp_age};
use super::error::{printable, RemoteError};
use super::options::{RemoteOptions, Updated, Want};

pub(super) fn rev_spec(rev: &ObjectId) -> String {
    format!("+{rev}:refs/fetchgit-date/revs/{rev}")
}

pub(super) type Shallow = gix::remote::fetch::Shallow;

/// Picks the shallow mode of a fetch from the remote's refs.
pub(super) type ChooseShallow<'a> = &'a dyn Fn(&gix::remote::fetch::RefMap) -> Shallow;

pub(super) struct Session<'a> {
    url: &'a RemoteUrl,
    options: &'a RemoteOptions,
    dir: &'a Path,
    bytes: u64,
    fetched: bool,
    /// False for a cache that can only be read ([`hold`]): every fetch is refused.
    writable: bool,
}

impl<'a> Session<'a> {
    /// A session fetching `url` into the cache repository `dir`, held as [`super::cache_dir::hold`]
    /// found it (`writable`).
    pub(super) fn new(url: &'a RemoteUrl, options: &'a RemoteOptions, dir: &'a Path, writable: bool) -> Session<'a> {
        Session { url, options, dir, bytes: 0, fetched: false, writable }
    }
}

impl Session<'_> {
    /// For a read-only cache, whether `local_ref`, present but no longer fresh, is used as it is
    /// (with a warning), as Nix goes on with "the most recent version" when it cannot update its
    /// clone. Not with `--refresh`, which asks for the network explicitly.
    pub(super) fn stale_but_read_only(&self, stamp: &Path, local_ref: &str) -> bool {
        if self.writable || self.options.refresh || ref_target(self.dir, local_ref).is_none() {
            return false;
        }
        let age = stamp_age(stamp).map_or_else(|| "at an unknown time".to_owned(), |age| format!("{} s ago", age.as_secs()));
        eprintln!("fetchgit-date: warning: the cache at {} is read-only: using {local_ref} of {} as fetched {age}", self.dir.display(), self.url.redacted());
        true
    }

    pub(super) fn done(self, local_ref: String) -> Updated {
        Updated { path: self.dir.to_owned(), local_ref, fetched: self.fetched, bytes_received: self.bytes }
    }

    /// Deepens the history of `start` as `shallow` says: asking for the commit itself, or, when
    /// the server refuses that, for the wanted ref (whose tip it normally is).
    pub(super) fn fetch_history(&mut self, start: ObjectId, want: &Want, shallow: Shallow) -> Result<(), RemoteError> {
        match self.fetch(&[rev_spec(&start)], &|_| shallow.clone()) {
            Ok(_) => Ok(()),
            Err(err @ (RemoteError::NoShallow { .. } | RemoteError::Unreachable { .. } | RemoteError::Tls { .. } | RemoteError::Auth { .. })) => Err(err),
            Err(_) => {
                let source = want.full_ref.as_deref().unwrap_or("HEAD");
                self.fetch(&[format!("+{source}:refs/fetchgit-date/revs/{start}")], &|_| shallow.clone()).map(drop)
            }
        }
    }

    /// Fetches the wanted ref (or `HEAD`), plus every ref with `all_refs`; fails when the
    /// wanted ref does not exist on the remote.
    pub(super) fn fetch_refs(&mut self, want: &Want, local_ref: &str, shallow: ChooseShallow<'_>) -> Result<(), RemoteError> {
        let source = want.full_ref.as_deref().unwrap_or("HEAD");
        let mut specs = vec![format!("+{source}:{local_ref}")];
        if self.options.all_refs {
            specs.push("+refs/*:refs/*".to_owned());
        }
        let not_found = || RemoteError::RefNotFound { name: source.to_owned(), url: self.url.redacted().to_owned() };
        let outcome = match self.fetch(&specs, shallow) {
            Err(RemoteError::Fetch { reason, .. }) if reason.contains("None of the refspec") => return Err(not_found()),
            other => other?,
        };
        let found = outcome.ref_map.mappings.iter().any(|m| m.spec_index == gix::remote::fetch::refmap::SpecIndex::ExplicitInRemote(0));
        if !found {
            return Err(not_found());
        }
        Ok(())
    }

    /// Fetches `specs`, with the shallow mode `shallow` picks once the remote's refs are known.
    pub(super) fn fetch(&mut self, specs: &[String], shallow: ChooseShallow<'_>) -> Result<gix::remote::fetch::Outcome, RemoteError> {
        if !self.writable {
            return Err(RemoteError::ReadOnly { path: self.dir.to_owned(), url: self.url.redacted().to_owned(), wanted: specs.join(" ") });
        }
        sanitize_shallow(self.dir).map_err(|e| RemoteError::Cache { path: self.dir.join("shallow"), reason: e.to_string() })?;
        let repo = open_cache(self.dir).map_err(|e| RemoteError::Cache { path: self.dir.to_owned(), reason: printable(&error_chain(&e)) })?;
        let url = self.url;
        let fail = |reason: String| classify(url, reason, None);
        let remote = repo
            .remote_at(url.fetch_url())
            .map_err(|e| fail(error_chain(&e)))?
            // Tags pointing at what is fetched come along, as `git fetch URL REF:REF` (Nix <= 2.19,
            // Lix) auto-follows them: a legacy export's `$Format:%d$` lists them.
            .with_fetch_tags(gix::remote::fetch::Tags::Included)
            .with_refspecs(specs.iter().map(String::as_str), gix::remote::Direction::Fetch)
            .map_err(|e| fail(error_chain(&e)))?;
        let (gix_url, version) = remote.sanitized_url_and_version(gix::remote::Direction::Fetch).map_err(|e| fail(error_chain(&e)))?;
        if self.options.verbose {
            eprintln!("fetchgit-date: fetching {} from {}", specs.join(" "), url.redacted());
        }
        let started = std::time::Instant::now();
        let (transport, watch) = super::transport::connect(&repo, gix_url.clone(), version, self.options.timeout).map_err(fail)?;
        let (transport, filter) = super::filter::for_fetch(transport, self.options);
        let progress =
            crate::progress::Progress::titled(self.options.progress, &format!("fetchgit-date: fetching {} from {}", specs.join(" "), url.redacted()));
        // gix turns `refs/*` into a protocol-v2 `ref-prefix` the server matches no ref with, so
        // `all_refs` asks for the whole ref list and maps it here.
        let all_refs = specs.iter().any(|spec| spec == "+refs/*:refs/*");
        let ref_map_options = gix::remote::ref_map::Options { prefix_from_spec_as_filter_on_remote: !all_refs, ..Default::default() };
        // The connection (and with it an ssh process) ends with this closure.
        let received = (|| -> Result<gix::remote::fetch::Outcome, String> {
            let mut connection = remote.to_connection_with_transport(transport).with_credentials(|action| supply_credentials(&repo, url, action));
            if let Some(options) = super::transport::http_options(&repo, &gix_url, self.options.timeout)? {
                connection = connection.with_transport_options(options);
            }
            let prepare = connection.prepare_fetch(progress.clone(), ref_map_options).map_err(|e| error_chain(&e))?;
            let mode = shallow(prepare.ref_map());
            prepare.with_shallow(mode).receive(progress.clone(), &AtomicBool::new(false)).map_err(|e| error_chain(&e))
        })();
        progress.finish();
        let stderr = watch.stderr(Duration::from_secs(2));
        let outcome = match received {
            Ok(outcome) => outcome,
            Err(reason) => {
                let reason = if stderr.is_empty() { reason } else { format!("{reason} (ssh: {})", stderr.join("; ")) };
                // reqwest bounds http(s) itself and says "operation timed out".
                let http_stall =
                    || reason.contains("timed out").then_some(super::transport::Stall { waiting: "waiting for an answer from", after: self.options.timeout });
                return Err(classify(url, reason.clone(), watch.stall().or_else(http_stall)));
            }
        };
        if self.options.verbose {
            for line in &stderr {
                eprintln!("fetchgit-date: ssh: {line}");
            }
        }
        self.fetched = true;
        let mut size = 0;
        if let gix::remote::fetch::Status::Change { write_pack_bundle, .. } = &outcome.status {
            if let Some(keep) = &write_pack_bundle.keep_path {
                let _ = std::fs::remove_file(keep);
            }
            size = write_pack_bundle.data_path.as_ref().and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len());
            if let Some(pack) = write_pack_bundle.data_path.as_ref().filter(|_| filter.used()) {
                super::filter::mark_promisor(self.dir, pack, url).map_err(|e| RemoteError::Cache { path: self.dir.to_owned(), reason: e.to_string() })?;
            }
            self.bytes += size;
        }
        if self.options.verbose {
            let commits_only = if filter.used() { " (commits only: filter tree:0)" } else { "" };
            eprintln!("fetchgit-date: received {size} bytes of pack from {} in {:.2?}{commits_only}", url.redacted(), started.elapsed());
        }
        Ok(outcome)
    }
}

/// Credentials for an http(s) server that asks for them (gix calls this after a 401). The
/// URL's own user name and password when it has both, as git uses them without asking its
/// helpers; otherwise git's configured credential helpers (`credential.helper`) for the URL and
/// its user name. Never a prompt, neither on the terminal nor through `GIT_ASKPASS`: inside Nix
/// evaluation nobody could answer it. A URL's own credentials are never handed to a helper to
/// store.
pub(super) fn supply_credentials(
    repo: &gix::Repository,
    url: &RemoteUrl,
    action: gix::credentials::helper::Action,
) -> gix::Result<Option<gix::credentials::protocol::Outcome>> {
    use gix::credentials::helper::Action;
    let missing = || {
        let message = "the server asks for credentials, and neither the URL nor a git credential helper gave them (fetchgit-date never prompts): put them in the URL (https://user:password@host/...) or configure credential.helper";
        gix::Error::from_error(std::io::Error::new(std::io::ErrorKind::PermissionDenied, message))
    };
    let user = url.user().map(str::to_owned);
    match (url.password().map(str::to_owned), action) {
        (Some(password), Action::Get(context)) => Ok(Some(gix::credentials::protocol::Outcome {
            identity: gix::sec::identity::Account { username: user.unwrap_or_default(), password, oauth_refresh_token: None },
            next: context.into(),
        })),
        (Some(_), Action::Store(_) | Action::Erase(_)) => Ok(None),
        (None, action) => {
            let mut helper_url = gix::Url::from_bytes(url.fetch_url().into()).map_err(|_| missing())?;
            helper_url.set_user(user);
            let (mut cascade, _, mut prompt) = repo.config_snapshot().credential_helpers(helper_url.clone()).map_err(|_| missing())?;
            cascade.stderr = false;
            prompt.mode = gix::prompt::Mode::Disable;
            let action = match action {
                Action::Get(mut context) => {
                    context.url = Some(helper_url.to_bstring());
                    Action::Get(context)
                }
                other => other,
            };
            let getting = matches!(action, Action::Get(_));
            match cascade.invoke(action, prompt) {
                Ok(Some(outcome)) => Ok(Some(outcome)),
                _ if getting => Err(missing()),
                _ => Ok(None),
            }
        }
    }
}

/// Sorts a transport failure into the error the user can act on. `reason` never holds
/// credentials: gix is never given them in a URL.
pub(super) fn classify(url: &RemoteUrl, reason: String, stall: Option<super::transport::Stall>) -> RemoteError {
    let reason = printable(&reason);
    let url = url.redacted().to_owned();
    if let Some(stall) = stall {
        return RemoteError::TimedOut { url, waiting: stall.waiting, seconds: stall.after.as_secs() };
    }
    // Keywords are looked for outside URLs: a port like :42403 or a host named ssl.example.org
    // must not decide the kind of failure.
    let lower = reason.split_whitespace().filter(|word| !word.contains("://")).collect::<Vec<_>>().join(" ").to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if has(&["shallow"]) && has(&["support", "capabilit", "lack feature"]) {
        RemoteError::NoShallow { url }
    } else if has(&["connection refused", "could not resolve", "failed to lookup", "network is unreachable"]) {
        RemoteError::Unreachable { url, reason }
    } else if has(&["'dumb' protocol is not supported"]) {
        RemoteError::DumbHttp { url }
    } else if has(&["no ca certificates"]) {
        let hint = "this machine has no CA certificates: install them (Debian: apt-get install ca-certificates), or set SSL_CERT_FILE to a CA bundle";
        RemoteError::Tls { url, reason, hint }
    } else if has(&["certificate", "tls", "ssl"]) {
        let hint = "if the server's certificate comes from a private CA, set SSL_CERT_FILE to a bundle that includes it (it replaces the system's CA list)";
        RemoteError::Tls { url, reason, hint }
    } else if has(&["401", "403", "authentication", "permission denied", "unauthorized", "credentials", "forbidden", "host key verification failed"]) {
        RemoteError::Auth { url, reason }
    } else if has(&["404", "not found", "does not appear to be a git repository", "no such file", "repository not exported", "not a git repository"]) {
        RemoteError::NotFound { url, reason }
    } else if has(&[
        "connection refused",
        "could not resolve",
        "dns",
        "unreachable",
        "failed to lookup",
        "connect",
        "connection reset",
        "could not read from remote",
        "eof",
    ]) {
        RemoteError::Unreachable { url, reason }
    } else {
        RemoteError::Fetch { url, reason }
    }
}

/// What makes a fetch bring the whole history: unshallow a shallow repository, else no change.
pub(super) fn unshallow(dir: &Path) -> Shallow {
    let shallow = open_cache(dir).ok().and_then(|repo| repo.shallow_commits().ok().flatten()).is_some_and(|c| !c.is_empty());
    if shallow {
        Shallow::undo()
    } else {
        Shallow::NoChange
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Short secrets are not searched for in messages at all (which would turn "Transport" into
    /// "Trans***ort"): the credentials never reach them (see `url::RemoteUrl`).
    #[test]
    fn messages_are_not_searched_for_secrets() {
        let short = RemoteUrl::new("https", "u:p@host/r").expect("valid");
        let err = classify(&short, "Transport error: p".into(), None);
        assert!(err.to_string().contains("Transport error: p"), "{err}");
    }

    /// Regression: a refused connection to port 42403 was reported as an authentication
    /// failure because the port contains "403".
    #[test]
    fn numbers_and_words_inside_urls_do_not_classify() {
        let url = RemoteUrl::new("https", "ssl.example.org:42403/tools/r.git").expect("valid");
        let err = classify(
            &url,
            "error sending request for url (https://ssl.example.org:42403/tools/r.git/info/refs): tcp connect error: Connection refused (os error 111)".into(),
            None,
        );
        assert!(matches!(err, RemoteError::Unreachable { .. }), "{err:?}");
        let err = classify(&url, "request to https://ssl.example.org:42403/r.git failed with HTTP status 403".into(), None);
        assert!(matches!(err, RemoteError::Auth { .. }), "{err:?}");
    }
}
