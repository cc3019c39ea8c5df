//! One fetchGitDate request: the argument set of `builtins.fetchGitDate` (the plugin) and of the
//! Nix library's `fetchGitDate`, which the CLI's `fetch` flags also spell. It is parsed from
//! typed attribute values, checked once with one-line messages, and turned into the library's
//! [`Selector`], [`ExportOptions`] and [`RemoteOptions`], so the plugin and the CLI share every
//! check and message. Messages name the argument as the caller wrote it: `firstParent` from
//! Nix, `--first-parent` from the command line ([`Spelling`]).
//!
//! Adding an argument is one entry in [`ATTRIBUTES`] (its names, its parser) plus a field.
//!
//! ```
//! use fetchgit_date::request::{Context, Request, Value};
//! let context = Context::nix("2.8.0".parse().expect("valid"), "/nix/store", false);
//! let request = Request::from_nix(
//!     &Value::Set(vec![("url".into(), Value::Path("/src/repo".into())), ("interval".into(), Value::Int(86400))]),
//!     &context,
//! ).expect("valid request");
//! assert_eq!(request.export_options().generation.as_str(), "legacy");
//! ```

use std::time::SystemTime;

use nixstore::store_path::StorePathName;

use crate::date::{parse_date, Interval};
use crate::export::ExportOptions;
use crate::fetch::Selector;
use crate::history::TruncateTo;
use crate::input_check::{self, Expected};
use crate::nix_version::Generation;
use crate::nix_version::{Change, NixVersion};
use crate::remote::{Depth, RemoteOptions};
use crate::signature::{CommitVerification, PublicKey, DEFAULT_KEY_TYPE};

/// An argument's value as the evaluator has it (after forcing), by Nix type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string (its context, if any, is dropped, as fetchGit drops it).
    String(String),
    /// A path literal (`./repo`), never copied to the store.
    Path(String),
    /// An integer.
    Int(i64),
    /// A Boolean.
    Bool(bool),
    /// `null`: the same as leaving the argument out.
    Null,
    /// An attribute set, with its attributes in any order.
    Set(Vec<(String, Value)>),
    /// A list.
    List(Vec<Value>),
    /// Any other type, by `builtins.typeOf`'s name (`list`, `float`, `lambda`, ...).
    Other(String),
}

impl Value {
    fn describe(&self) -> String {
        match self {
            Value::String(s) => format!("the string {s:?}"),
            Value::Path(p) => format!("the path {p}"),
            Value::Int(i) => format!("the integer {i}"),
            Value::Bool(b) => format!("{b}"),
            Value::Null => "null".into(),
            Value::Set(_) => "an attribute set".into(),
            Value::List(_) => "a list".into(),
            Value::Other(kind) => format!("a {kind}"),
        }
    }
}

/// How argument names are written in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// As Nix attributes: `firstParent`, `exportIgnore = false`.
    Nix,
    /// As the CLI's flags: `--first-parent`, `--no-export-ignore`.
    Cli,
}

/// What a request is checked against: who asks, which Nix is running, the evaluation mode.
#[derive(Debug, Clone)]
pub struct Context {
    /// How to name arguments in messages.
    pub spelling: Spelling,
    /// The running Nix, for the defaults of `nixVersion` and `compat`; `None` for the CLI,
    /// whose `--nix-version` defaults to [`NixVersion::default_release`].
    pub running_nix: Option<NixVersion>,
    /// The store directory (`/nix/store`): a `url` inside it has no `.git`.
    pub store_dir: String,
    /// Pure evaluation: only locked inputs (a `rev`) and integer dates.
    pub pure_eval: bool,
    /// The clock, for relative dates.
    pub now: SystemTime,
}

impl Context {
    /// The context of a call from a Nix evaluation.
    pub fn nix(running_nix: NixVersion, store_dir: &str, pure_eval: bool) -> Context {
        Context { spelling: Spelling::Nix, running_nix: Some(running_nix), store_dir: store_dir.into(), pure_eval, now: SystemTime::now() }
    }

    /// The context of a CLI invocation.
    pub fn cli(store_dir: &str) -> Context {
        Context { spelling: Spelling::Cli, running_nix: None, store_dir: store_dir.into(), pure_eval: false, now: SystemTime::now() }
    }

    fn name(&self, attribute: &Attribute) -> &'static str {
        match self.spelling {
            Spelling::Nix => attribute.nix,
            Spelling::Cli => attribute.cli,
        }
    }
}

/// A `date` as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum When {
    /// An absolute time, Unix seconds (`date = 1700000000`, `--date @1700000000`).
    Date(i64),
    /// A date string, parsed into Unix seconds when the request is checked (see [`parse_date`]).
    DateSpec(String),
}

/// A checked request, with every default applied: equal requests fetch the same thing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Request {
    /// Repository path or URL.
    pub url: String,
    /// Branch or full ref to start from.
    pub ref_name: Option<String>,
    /// Full commit to start from.
    pub rev: Option<String>,
    /// Store path name.
    pub name: String,
    /// Export the submodules too (fetchGit's `submodules`).
    pub submodules: bool,
    /// Fetch no more history than needed; `revCount` is 0.
    pub shallow: bool,
    /// Fetch all refs of a remote.
    pub all_refs: bool,
    /// Apply `export-ignore`.
    pub export_ignore: bool,
    /// Truncation boundary: Unix seconds for a date, or an interval.
    pub truncate: Option<TruncateTo>,
    /// Follow only first parents while truncating.
    pub first_parent: bool,
    /// Whose export to reproduce.
    pub generation: Generation,
    /// Take the root commit when nothing is old enough.
    pub root_fallback: bool,
    /// Git LFS contents instead of pointer files (modern only).
    pub lfs: bool,
    /// `verifyCommit`, `publicKey`/`keytype` and `publicKeys`.
    pub verification: CommitVerification,
    /// The Nix release to behave like: `nixVersion`, else the running Nix (none for the CLI),
    /// else [`NixVersion::default_release`]; with `compat` alone, a release of that generation
    /// ([`NixVersion::newest_of`]). Every rule and the export generation come from it.
    pub nix_version: NixVersion,
    /// `narHash`, `lastModified`, `revCount`: checked against the result, as fetchGit does.
    pub expected: Expected,
    /// Things the caller should hear about (a clock-dependent date), one line each.
    pub warnings: Vec<String>,
}

/// Why a request is refused. Every message is one line naming the argument and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RequestError(pub String);

/// The arguments as given, before defaults and cross-argument checks.
#[derive(Debug, Default)]
struct Given {
    url: Option<String>,
    ref_name: Option<String>,
    rev: Option<String>,
    name: Option<String>,
    submodules: Option<bool>,
    shallow: Option<bool>,
    all_refs: Option<bool>,
    export_ignore: Option<bool>,
    date: Option<When>,
    interval: Option<Interval>,
    first_parent: Option<bool>,
    compat: Option<Generation>,
    root_fallback: Option<bool>,
    lfs: Option<bool>,
    verify_commit: Option<bool>,
    public_key: Option<String>,
    keytype: Option<String>,
    public_keys: Option<Vec<PublicKey>>,
    nix_version: Option<NixVersion>,
    nar_hash: Option<nixstore::hash::NixHash>,
    last_modified: Option<i64>,
    rev_count: Option<u64>,
}

type Parse = fn(&mut Given, &Value, &str) -> Result<(), RequestError>;

/// One argument: its Nix attribute name, its CLI flag, and how its value is read.
pub struct Attribute {
    /// The attribute name (`firstParent`).
    pub nix: &'static str,
    /// The flag that sets it (`--first-parent`).
    pub cli: &'static str,
    parse: Parse,
}

fn wrong_type(name: &str, expected: &str, value: &Value) -> RequestError {
    RequestError(format!("{name} must be {expected}, not {}", value.describe()))
}

fn string(name: &str, value: &Value) -> Result<String, RequestError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => Err(wrong_type(name, "a string", other)),
    }
}

fn boolean(name: &str, value: &Value) -> Result<bool, RequestError> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(wrong_type(name, "true or false", other)),
    }
}

fn interval(text: &str) -> Result<Interval, RequestError> {
    text.parse::<Interval>().map_err(|e| RequestError(e.to_string()))
}

/// Every argument of fetchGitDate, in the order the docs list them.
pub const ATTRIBUTES: &[Attribute] = &[
    Attribute {
        nix: "url",
        cli: "--url",
        parse: |g, v, n| {
            g.url = Some(match v {
                Value::String(s) | Value::Path(s) => s.clone(),
                other => return Err(wrong_type(n, "a path or a string", other)),
            });
            Ok(())
        },
    },
    Attribute { nix: "ref", cli: "--ref", parse: |g, v, n| string(n, v).map(|x| g.ref_name = Some(x)) },
    Attribute { nix: "rev", cli: "--rev", parse: |g, v, n| string(n, v).map(|x| g.rev = Some(x)) },
    Attribute { nix: "name", cli: "--name", parse: |g, v, n| string(n, v).map(|x| g.name = Some(x)) },
    Attribute { nix: "submodules", cli: "--submodules", parse: |g, v, n| boolean(n, v).map(|x| g.submodules = Some(x)) },
    Attribute { nix: "shallow", cli: "--shallow", parse: |g, v, n| boolean(n, v).map(|x| g.shallow = Some(x)) },
    Attribute { nix: "allRefs", cli: "--all-refs", parse: |g, v, n| boolean(n, v).map(|x| g.all_refs = Some(x)) },
    Attribute { nix: "exportIgnore", cli: "--no-export-ignore", parse: |g, v, n| boolean(n, v).map(|x| g.export_ignore = Some(x)) },
    Attribute {
        nix: "date",
        cli: "--date",
        parse: |g, v, n| {
            g.date = Some(match v {
                Value::Int(seconds) => When::Date(*seconds),
                Value::String(spec) => When::DateSpec(spec.clone()),
                other => return Err(wrong_type(n, "Unix seconds (an integer) or a date string", other)),
            });
            Ok(())
        },
    },
    Attribute {
        nix: "interval",
        cli: "--interval",
        parse: |g, v, n| {
            g.interval = Some(match v {
                Value::Int(seconds) => interval(&seconds.to_string())?,
                Value::String(text) => interval(text)?,
                other => return Err(wrong_type(n, "seconds (an integer) or a string with a unit (\"12h\", \"1d\", \"1w\")", other)),
            });
            Ok(())
        },
    },
    Attribute { nix: "firstParent", cli: "--first-parent", parse: |g, v, n| boolean(n, v).map(|x| g.first_parent = Some(x)) },
    Attribute {
        nix: "compat",
        cli: "--compat",
        parse: |g, v, n| {
            g.compat = Some(match v {
                Value::String(s) if s == "modern" => Generation::Modern,
                Value::String(s) if s == "legacy" => Generation::Legacy,
                other => return Err(wrong_type(n, "\"modern\" or \"legacy\"", other)),
            });
            Ok(())
        },
    },
    Attribute { nix: "rootFallback", cli: "--no-root-fallback", parse: |g, v, n| boolean(n, v).map(|x| g.root_fallback = Some(x)) },
    Attribute { nix: "lfs", cli: "--lfs", parse: |g, v, n| boolean(n, v).map(|x| g.lfs = Some(x)) },
    Attribute { nix: "verifyCommit", cli: "--verify-commit", parse: |g, v, n| boolean(n, v).map(|x| g.verify_commit = Some(x)) },
    Attribute { nix: "publicKey", cli: "--public-key", parse: |g, v, n| string(n, v).map(|x| g.public_key = Some(x)) },
    Attribute { nix: "keytype", cli: "--keytype", parse: |g, v, n| string(n, v).map(|x| g.keytype = Some(x)) },
    Attribute {
        nix: "publicKeys",
        cli: "--public-keys",
        parse: |g, v, n| {
            let expected = "a list of { type ? \"ssh-ed25519\"; key; } sets";
            let keys = match v {
                // The CLI spells the list as JSON, as Nix itself carries it.
                Value::String(json) => crate::signature::parse_public_keys(json).map_err(|e| RequestError(format!("{n}: {}", crate::error_chain(&e))))?,
                Value::List(items) => items
                    .iter()
                    .map(|item| {
                        let Value::Set(attrs) = item else { return Err(wrong_type(n, expected, v)) };
                        let mut key = PublicKey { key_type: DEFAULT_KEY_TYPE.to_owned(), key: String::new() };
                        let mut has_key = false;
                        for (name, value) in attrs {
                            match name.as_str() {
                                "type" => key.key_type = string(&format!("{n}'s type"), value)?,
                                "key" => (key.key, has_key) = (string(&format!("{n}'s key"), value)?, true),
                                other => return Err(RequestError(format!("{n}: unexpected attribute '{other}': a key is {{ type ? \"ssh-ed25519\"; key; }}"))),
                            }
                        }
                        if has_key {
                            Ok(key)
                        } else {
                            Err(RequestError(format!("{n}: a key has no 'key' attribute")))
                        }
                    })
                    .collect::<Result<_, _>>()?,
                other => return Err(wrong_type(n, expected, other)),
            };
            g.public_keys = Some(keys);
            Ok(())
        },
    },
    Attribute {
        nix: "nixVersion",
        cli: "--nix-version",
        parse: |g, v, n| {
            let text = string(n, v)?;
            g.nix_version = Some(text.parse().map_err(|e: crate::nix_version::NixVersionError| RequestError(format!("{n}: {e}")))?);
            Ok(())
        },
    },
    Attribute {
        nix: "narHash",
        cli: "--nar-hash",
        parse: |g, v, n| {
            let text = string(n, v)?;
            g.nar_hash = Some(input_check::parse_nar_hash(&text).map_err(|e| RequestError(format!("invalid {n}: {e}")))?);
            Ok(())
        },
    },
    Attribute {
        nix: "lastModified",
        cli: "--last-modified",
        parse: |g, v, n| match v {
            Value::Int(seconds) => {
                g.last_modified = Some(*seconds);
                Ok(())
            }
            other => Err(wrong_type(n, "Unix seconds (an integer)", other)),
        },
    },
    Attribute {
        nix: "revCount",
        cli: "--rev-count",
        parse: |g, v, n| match v {
            Value::Int(count) if *count >= 0 => {
                g.rev_count = Some(u64::try_from(*count).expect("not negative"));
                Ok(())
            }
            other => Err(wrong_type(n, "a commit count (a non-negative integer)", other)),
        },
    },
];

fn attribute(nix_name: &str) -> &'static Attribute {
    ATTRIBUTES.iter().find(|a| a.nix == nix_name).expect("every name used here is in ATTRIBUTES")
}

impl Request {
    /// The request a call `fetchGitDate ARG` makes: `ARG` is an attribute set, or the URL alone.
    pub fn from_nix(arg: &Value, context: &Context) -> Result<Request, RequestError> {
        let attrs = match arg {
            Value::Set(attrs) => attrs.clone(),
            Value::String(_) | Value::Path(_) => vec![("url".to_owned(), arg.clone())],
            other => return Err(wrong_type("the argument", "an attribute set { url; ... } or a URL", other)),
        };
        Request::from_attributes(&attrs, context)
    }

    /// The request named by attributes (Nix names, in any order); `null` counts as absent.
    pub fn from_attributes(attrs: &[(String, Value)], context: &Context) -> Result<Request, RequestError> {
        let mut given = Given::default();
        for (name, value) in attrs {
            let Some(attribute) = ATTRIBUTES.iter().find(|a| a.nix == name) else {
                let names: Vec<_> = ATTRIBUTES.iter().map(|a| context.name(a)).collect();
                return Err(RequestError(format!("unexpected argument '{name}': the arguments are {}", names.join(", "))));
            };
            if *value != Value::Null {
                (attribute.parse)(&mut given, value, context.name(attribute))?;
            }
        }
        Request::check(given, context)
    }

    fn check(given: Given, context: &Context) -> Result<Request, RequestError> {
        let name = |n: &str| context.name(attribute(n));
        let nix = context.spelling == Spelling::Nix;
        let fail = |message: String| Err(RequestError(message));
        let Some(url) = given.url else {
            return fail(format!("{} is required: the repository's path or URL", name("url")));
        };
        if url.starts_with(&format!("{}/", context.store_dir)) {
            return fail(format!("{} {url} is in the Nix store, where sources are copied without .git (a flake's ./. is such a copy): pass the repository's own location as a string", name("url")));
        }
        // The one release whose fetchGit this request reproduces, every rule and the export alike.
        let release = match (given.nix_version, given.compat) {
            (Some(version), Some(compat)) if version.generation() != compat => {
                let (compat_arg, version_arg, other) = if nix {
                    (format!("compat = \"{}\"", compat.as_str()), format!("nixVersion = \"{version}\""), "nixVersion")
                } else {
                    (format!("--compat {}", compat.as_str()), format!("--nix-version {version}"), "--nix-version")
                };
                let releases = match compat {
                    Generation::Modern => "Nix >= 2.20",
                    Generation::Legacy => "Nix <= 2.19, or Lix",
                };
                return fail(format!(
                    "{compat_arg} contradicts {version_arg}, a {} release ({}): no Nix fetches with both; leave out {}, or pass a {other} of a {} release ({releases})",
                    version.generation().as_str(),
                    version.generation().nix(),
                    name("compat"),
                    compat.as_str(),
                ));
            }
            (Some(version), _) => version,
            (None, compat) => {
                // `compat` alone stands for a release of its generation: the running Nix when it
                // is one, else the newest (never the rules of one release with another's export).
                let running = context.running_nix.clone().unwrap_or_else(NixVersion::default_release);
                match compat {
                    Some(generation) if running.generation() != generation => NixVersion::newest_of(generation),
                    _ => running,
                }
            }
        };
        input_check::check_url_parses(&url, &release).map_err(RequestError)?;
        let store_name = given.name.unwrap_or_else(|| "source".into());
        StorePathName::new(&store_name).map_err(|e| RequestError(crate::error_chain(&e)))?;
        let submodules = given.submodules.unwrap_or(false);
        let generation = release.generation();
        let export_ignore = given.export_ignore.unwrap_or(!submodules);
        let mut warnings = Vec::new();
        let truncate = match (given.date, given.interval) {
            (Some(_), Some(_)) => return fail(format!("give either {} or {}, not both", name("date"), name("interval"))),
            (Some(When::Date(seconds)), None) => Some(TruncateTo::Date(seconds)),
            (Some(When::DateSpec(spec)), None) => {
                if context.pure_eval {
                    return fail(format!("in pure evaluation mode {} must be Unix seconds (an integer): a date string may be relative or in the local time zone; or evaluate with --impure", name("date")));
                }
                let date = parse_date(&spec, context.now).map_err(|e| RequestError(e.to_string()))?;
                if date.clock_dependent {
                    warnings.push(format!(
                        "{} '{spec}' depends on the clock, so the result is impure; pass an absolute date to make it reproducible",
                        name("date")
                    ));
                }
                Some(TruncateTo::Date(date.unix_seconds))
            }
            (None, Some(seconds)) => Some(TruncateTo::Interval(seconds)),
            (None, None) => None,
        };
        let first_parent = given.first_parent.unwrap_or(false);
        if first_parent && truncate.is_none() {
            return fail(format!("{} only applies to truncation: add {} or {}", name("firstParent"), name("date"), name("interval")));
        }
        if !export_ignore && generation == Generation::Legacy && !submodules {
            let (off, modern) = if nix { ("exportIgnore = false", "compat = \"modern\"") } else { ("--no-export-ignore", "--compat modern") };
            return fail(format!("{off} needs {modern}: legacy Nix (<= 2.19, Lix) exports with git archive, which always applies export-ignore"));
        }
        // What the release's fetchGit does not have, it refuses: so do we, naming the release.
        let lfs = given.lfs.unwrap_or(false);
        if lfs && !release.has_lfs() {
            let (on, version) = if nix { ("lfs = true", "nixVersion") } else { ("--lfs", "--nix-version") };
            return fail(format!("{on} needs Nix >= 2.27 (not Lix): the builtins.fetchGit of Nix {release} has no lfs; pass {version} 2.27.0 or later to behave like a release that has it"));
        }
        let signs = given.verify_commit == Some(true) || given.public_key.is_some() || given.keytype.is_some() || given.public_keys.is_some();
        if signs && release.key_type_rules().is_none() {
            let (args, version) = if nix {
                ("verifyCommit, publicKey, keytype and publicKeys", "nixVersion")
            } else {
                ("--verify-commit, --public-key, --keytype and --public-keys", "--nix-version")
            };
            return fail(format!("{args} need Nix >= 2.19 (not Lix): the builtins.fetchGit of Nix {release} has no signature checks; pass {version} 2.19.0 or later to behave like a release that has them"));
        }
        if submodules {
            let (on, ignore) = if nix { ("submodules = true", "exportIgnore = true") } else { ("--submodules", "--export-ignore") };
            if given.export_ignore == Some(true) {
                // Nix >= 2.20's own words; no release applies export-ignore with submodules.
                return fail(format!(
                    "exportIgnore and submodules are not supported together yet ({ignore} with {on}): with submodules no Nix release applies export-ignore"
                ));
            }
            if generation == Generation::Modern {
                if let Err(why) = release.reproduces_submodules() {
                    let version = if nix { "nixVersion" } else { "--nix-version" };
                    return fail(format!("{on} is not reproduced for Nix {release}: {why}; pass {version} 2.24.7, 2.25.0 or later (or a legacy release) to behave like one that is"));
                }
            }
        }
        // publicKeys first, then publicKey with keytype, as Nix lists them.
        let mut public_keys = given.public_keys.unwrap_or_default();
        if let Some(key) = given.public_key {
            public_keys.push(PublicKey { key_type: given.keytype.unwrap_or_else(|| DEFAULT_KEY_TYPE.to_owned()), key });
        }
        let verification = CommitVerification { verify_commit: given.verify_commit, public_keys };
        let expected = Expected { nar_hash: given.nar_hash, last_modified: given.last_modified, rev_count: given.rev_count };
        if context.pure_eval && given.rev.is_none() {
            // From Nix 2.27 a narHash locks an input in pure evaluation too, with a warning.
            let nar_hash_locks = expected.nar_hash.is_some() && release.has(Change::NarHashLocksInPureEval);
            if !nar_hash_locks {
                return fail(
                    "in pure evaluation mode fetchGitDate needs a locked input: pass rev (e.g. rev = self.rev in a flake), or evaluate with --impure".into(),
                );
            }
            warnings.push(if release.has(Change::UnlockedWarningWording) {
                format!("Input '{url}' is unlocked (e.g. lacks a Git revision) but is checked by NAR hash. This is not reproducible and will break after garbage collection or when shared.")
            } else {
                format!("Input '{url}' is unlocked (e.g. lacks a Git revision) but does have a NAR hash. This is deprecated since such inputs are verifiable but may not be reproducible.")
            });
        }
        Ok(Request {
            url,
            ref_name: given.ref_name,
            rev: given.rev,
            name: store_name,
            submodules,
            shallow: given.shallow.unwrap_or(false),
            all_refs: given.all_refs.unwrap_or(false),
            export_ignore,
            truncate,
            first_parent,
            generation,
            root_fallback: given.root_fallback.unwrap_or(true),
            lfs,
            verification,
            nix_version: release,
            expected,
            warnings,
        })
    }

    /// The Nix release to behave like ([`Request::nix_version`]).
    pub fn nix(&self) -> NixVersion {
        self.nix_version.clone()
    }

    /// The input as Nix names it in mismatch messages (`git+file:///path?rev=...`).
    pub fn input_description(&self) -> String {
        let flags = input_check::InputFlags { shallow: self.shallow, submodules: self.submodules, export_ignore: self.export_ignore, lfs: self.lfs };
        input_check::describe_input(&self.url, self.ref_name.as_deref(), self.rev.as_deref(), flags, &self.verification, &self.nix())
    }

    /// Checks `fetched` against the given `narHash`, `lastModified` and `revCount` as this
    /// request's Nix release does (passing through what it takes from the caller); call it
    /// before adding anything to the store.
    pub fn check_result(&self, fetched: &mut crate::fetch::Fetched) -> Result<(), input_check::InputMismatch> {
        input_check::check(fetched, &self.expected, &self.nix(), &self.input_description())
    }

    /// Whether the result is a function of the arguments alone (a `rev` to start from).
    pub fn is_locked(&self) -> bool {
        self.rev.is_some()
    }

    /// The URL as this request's Nix release hands it to `EvalState::checkURI` under
    /// restrict-eval. With [`Change::RestrictEvalChecksInputUrl`] its input's URL
    /// (`Input::toURLString`): Nix's `fixURIForGit` (scp-style `user@host:path` becomes
    /// `ssh://user@host/path`, anything else without `://` a `file://` URL) with `git+` in front
    /// of every scheme but `git`, which no allowed path matches. Before, and in Lix, `fixURI`
    /// checks the URL before it adds a scheme: as given, or, when it matches the scp rule,
    /// rewritten to `user@host/path` (so `allowed-uris = file:///src` does not admit the path
    /// `/src/repo`: seen in Nix 2.8.0 and Lix 2.95.3).
    pub fn uri_to_check(&self) -> String {
        let url = &self.url;
        // std::regex_match("([^/]*)@(.*):(.*)") on a URL not starting with '/': greedy, so the
        // last ':' splits host and path.
        let scp = (!url.starts_with('/'))
            .then(|| url.split_once('@'))
            .flatten()
            .filter(|(user, _)| !user.contains('/'))
            .and_then(|(user, rest)| rest.rsplit_once(':').map(|(host, path)| (user, host, path)));
        if !self.nix_version.has(Change::RestrictEvalChecksInputUrl) {
            return scp.map_or_else(|| url.to_owned(), |(user, host, path)| format!("{user}@{host}/{path}"));
        }
        let fixed = if url.contains("://") {
            url.to_owned()
        } else {
            scp.map_or_else(|| format!("file://{url}"), |(user, host, path)| format!("ssh://{user}@{host}/{path}"))
        };
        if fixed.starts_with("git+") || fixed.starts_with("git://") {
            fixed
        } else {
            format!("git+{fixed}")
        }
    }

    /// The start commit and truncation.
    pub fn selector(&self) -> Selector {
        Selector {
            ref_name: self.ref_name.clone(),
            rev: self.rev.clone(),
            truncate: self.truncate,
            first_parent: self.first_parent,
            refuse_root_fallback: !self.root_fallback,
            verification: self.verification.clone(),
            key_type_rules: self.nix_version.key_type_rules(),
        }
    }

    /// How to export the tree.
    pub fn export_options(&self) -> ExportOptions {
        ExportOptions { generation: self.generation, export_ignore: self.export_ignore, lfs: self.lfs, submodules: self.submodules }
    }

    /// The store path name.
    pub fn store_path_name(&self) -> StorePathName {
        StorePathName::new(&self.name).expect("checked when the request was made")
    }

    /// How a remote is brought into the cache. `partial`: only what the truncation walk needs
    /// (the CLI's `resolve`); with `shallow` and no truncation the tip alone; else everything.
    pub fn remote_options(&self, partial: bool) -> RemoteOptions {
        let depth = match (partial || self.shallow, self.truncate.is_some()) {
            (false, _) => Depth::Full,
            (true, true) => Depth::ToBoundary,
            (true, false) => Depth::One,
        };
        RemoteOptions { all_refs: self.all_refs, depth, ..RemoteOptions::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nix_version::{DEFAULT_NIX_VERSION, NEWEST_LEGACY_NIX_VERSION};

    fn nix(pure: bool) -> Context {
        Context::nix("2.8.0".parse().expect("valid"), "/nix/store", pure)
    }

    fn attrs(pairs: &[(&str, Value)]) -> Value {
        Value::Set(pairs.iter().map(|(n, v)| (n.to_string(), v.clone())).collect())
    }

    fn s(text: &str) -> Value {
        Value::String(text.into())
    }

    fn refused(arg: Value, context: &Context, needle: &str) {
        match Request::from_nix(&arg, context) {
            Err(RequestError(message)) => {
                assert!(message.contains(needle), "{message:?} should mention {needle:?}");
                assert!(!message.contains('\n'), "{message:?} is one line");
            }
            Ok(request) => panic!("{arg:?} was accepted: {request:?}"),
        }
    }

    const REV: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn defaults_follow_fetchgit_and_the_running_nix() {
        let request = Request::from_nix(&s("/repo"), &nix(false)).expect("valid");
        assert_eq!((request.name.as_str(), request.generation, request.export_ignore, request.root_fallback), ("source", Generation::Legacy, true, true));
        let modern = Context::nix("2.26.3".parse().expect("valid"), "/nix/store", false);
        assert_eq!(Request::from_nix(&s("/repo"), &modern).expect("valid").generation, Generation::Modern);
        // nixVersion picks the release and with it the export generation.
        let r = Request::from_nix(&attrs(&[("url", s("/r")), ("nixVersion", s("2.20.0"))]), &nix(false)).expect("valid");
        assert_eq!((r.generation, r.nix().to_string()), (Generation::Modern, "2.20.0".to_owned()));
        // compat alone is a release of that generation: the running one if it is of it, else the
        // newest; never one release's rules with another generation's export.
        let release = |pairs: &[(&str, Value)], ctx: &Context| {
            let r = Request::from_nix(&attrs(pairs), ctx).expect("valid");
            (r.generation, r.nix().to_string())
        };
        assert_eq!(release(&[("url", s("/r")), ("compat", s("legacy"))], &nix(false)), (Generation::Legacy, "2.8.0".to_owned()));
        assert_eq!(release(&[("url", s("/r")), ("compat", s("modern"))], &nix(false)), (Generation::Modern, DEFAULT_NIX_VERSION.to_owned()));
        assert_eq!(release(&[("url", s("/r")), ("compat", s("legacy"))], &modern), (Generation::Legacy, NEWEST_LEGACY_NIX_VERSION.to_owned()));
        assert_eq!(release(&[("url", s("/r")), ("compat", s("modern"))], &modern), (Generation::Modern, "2.26.3".to_owned()));
        let cli = Context::cli("/nix/store");
        assert_eq!(release(&[("url", s("/r"))], &cli), (Generation::Modern, DEFAULT_NIX_VERSION.to_owned()));
        assert_eq!(release(&[("url", s("/r")), ("compat", s("legacy"))], &cli), (Generation::Legacy, NEWEST_LEGACY_NIX_VERSION.to_owned()));
        assert_eq!(release(&[("url", s("/r")), ("compat", s("legacy")), ("nixVersion", s("2.18.3-lix"))], &cli), (Generation::Legacy, "2.18.3-lix".to_owned()));
        refused(
            attrs(&[("url", s("/r")), ("nixVersion", s("2.20.0")), ("compat", s("legacy"))]),
            &nix(false),
            "compat = \"legacy\" contradicts nixVersion = \"2.20.0\", a modern release (Nix >= 2.20)",
        );
        refused(
            attrs(&[("url", s("/r")), ("nixVersion", s("2.8.0")), ("compat", s("modern"))]),
            &cli,
            "--compat modern contradicts --nix-version 2.8.0, a legacy release",
        );
        // null is absent; equal requests compare equal whatever the attribute order.
        let a = Request::from_nix(&attrs(&[("url", s("/r")), ("rev", s(REV)), ("ref", Value::Null)]), &nix(true)).expect("valid");
        let b = Request::from_nix(&attrs(&[("name", s("source")), ("rev", s(REV)), ("url", Value::Path("/r".into()))]), &nix(true)).expect("valid");
        assert_eq!(a, b);
        assert_eq!(
            Request::from_nix(&attrs(&[("url", s("/r")), ("interval", s("1d"))]), &nix(false)).expect("valid").truncate,
            Some(TruncateTo::Interval("86400".parse().expect("valid")))
        );
    }

    #[test]
    fn bad_arguments_get_one_line_naming_them() {
        let ctx = nix(false);
        refused(attrs(&[("url", s("/r")), ("colour", Value::Int(1))]), &ctx, "unexpected argument 'colour': the arguments are url, ref, rev");
        refused(attrs(&[("url", Value::Other("list".into()))]), &ctx, "url must be a path or a string, not a list");
        refused(attrs(&[("url", s("/r")), ("rev", Value::Int(3))]), &ctx, "rev must be a string, not the integer 3");
        refused(attrs(&[("url", s("/r")), ("shallow", s("yes"))]), &ctx, "shallow must be true or false");
        refused(attrs(&[("url", s("/r")), ("date", Value::Int(1)), ("interval", Value::Int(1))]), &ctx, "give either date or interval, not both");
        refused(attrs(&[("url", s("/r")), ("firstParent", Value::Bool(true))]), &ctx, "firstParent only applies to truncation: add date or interval");
        refused(attrs(&[("url", s("/r")), ("interval", Value::Int(0))]), &ctx, "invalid interval '0'");
        refused(attrs(&[("url", s("/r")), ("interval", Value::Other("float".into()))]), &ctx, "interval must be seconds");
        refused(attrs(&[("url", s("/r")), ("date", s("garbage"))]), &ctx, "invalid date 'garbage'");
        refused(attrs(&[("url", s("/r")), ("compat", s("new"))]), &ctx, "compat must be \"modern\" or \"legacy\", not the string \"new\"");
        refused(
            attrs(&[("url", s("/r")), ("exportIgnore", Value::Bool(false)), ("compat", s("legacy"))]),
            &ctx,
            "exportIgnore = false needs compat = \"modern\"",
        );
        refused(
            attrs(&[("url", s("/r")), ("submodules", Value::Bool(true)), ("exportIgnore", Value::Bool(true)), ("nixVersion", s("2.26.3"))]),
            &ctx,
            "exportIgnore and submodules are not supported together yet",
        );
        refused(attrs(&[("url", s("/r")), ("submodules", Value::Bool(true)), ("nixVersion", s("2.22.0"))]), &ctx, "is not reproduced for Nix 2.22.0");
        refused(attrs(&[("url", s("/r")), ("name", s("bad name"))]), &ctx, "bad name");
        refused(attrs(&[("url", s("/r")), ("nixVersion", s("two"))]), &ctx, "nixVersion: invalid Nix version 'two'");
        refused(attrs(&[("rev", s(REV))]), &ctx, "url is required");
        refused(s("/nix/store/00000000000000000000000000000000-x"), &ctx, "is in the Nix store, where sources are copied without .git");
        refused(Value::Int(1), &ctx, "the argument must be an attribute set { url; ... } or a URL, not the integer 1");
    }

    #[test]
    fn pure_evaluation_takes_locked_inputs_and_integer_dates_only() {
        refused(s("/r"), &nix(true), "in pure evaluation mode fetchGitDate needs a locked input: pass rev");
        refused(attrs(&[("url", s("/r")), ("rev", s(REV)), ("date", s("1 day ago"))]), &nix(true), "in pure evaluation mode date must be Unix seconds");
        let r = Request::from_nix(&attrs(&[("url", s("/r")), ("rev", s(REV)), ("date", Value::Int(5))]), &nix(true)).expect("valid");
        assert!(r.is_locked() && r.warnings.is_empty());
        let r = Request::from_nix(&attrs(&[("url", s("/r")), ("date", s("1 day ago"))]), &nix(false)).expect("valid");
        assert!(r.warnings[0].contains("date '1 day ago' depends on the clock"), "{:?}", r.warnings);
    }

    #[test]
    fn signature_and_lfs_arguments_become_the_selection() {
        let keys = Value::List(vec![Value::Set(vec![("key".into(), s("AAAA"))]), Value::Set(vec![("type".into(), s("ssh-rsa")), ("key".into(), s("BBBB"))])]);
        let modern = Context::nix("2.27.0".parse().expect("valid"), "/nix/store", false);
        let r =
            Request::from_nix(&attrs(&[("url", s("/r")), ("publicKeys", keys), ("publicKey", s("CCCC")), ("lfs", Value::Bool(true))]), &modern).expect("valid");
        let types: Vec<_> = r.verification.public_keys.iter().map(|k| (k.key_type.as_str(), k.key.as_str())).collect();
        assert_eq!(types, [("ssh-ed25519", "AAAA"), ("ssh-rsa", "BBBB"), ("ssh-ed25519", "CCCC")]);
        assert!(r.selector().verification.required() && r.export_options().lfs);
        // A release without the attribute refuses it; with it, legacy exports still cannot.
        refused(
            attrs(&[("url", s("/r")), ("lfs", Value::Bool(true))]),
            &nix(false),
            "lfs = true needs Nix >= 2.27 (not Lix): the builtins.fetchGit of Nix 2.8.0 has no lfs",
        );
        refused(
            attrs(&[("url", s("/r")), ("lfs", Value::Bool(true)), ("compat", s("legacy"))]),
            &modern,
            "lfs = true needs Nix >= 2.27 (not Lix): the builtins.fetchGit of Nix 2.19.7 has no lfs",
        );
        refused(
            attrs(&[("url", s("/r")), ("verifyCommit", Value::Bool(true))]),
            &nix(false),
            "need Nix >= 2.19 (not Lix): the builtins.fetchGit of Nix 2.8.0 has no signature checks",
        );
        refused(
            attrs(&[("url", s("/r")), ("publicKey", s("AAAA")), ("nixVersion", s("2.18.3-lix"))]),
            &modern,
            "the builtins.fetchGit of Nix 2.18.3-lix has no signature checks",
        );
        let cli = Context::cli("/nix/store");
        refused(
            attrs(&[("url", s("/r")), ("lfs", Value::Bool(true)), ("nixVersion", s("2.26.3"))]),
            &cli,
            "--lfs needs Nix >= 2.27 (not Lix): the builtins.fetchGit of Nix 2.26.3 has no lfs; pass --nix-version 2.27.0 or later",
        );
        assert!(Request::from_nix(&attrs(&[("url", s("/r")), ("lfs", Value::Bool(true))]), &cli).expect("the default release has lfs").lfs);
        refused(
            attrs(&[("url", s("/r")), ("publicKeys", Value::List(vec![s("AAAA")]))]),
            &nix(false),
            "publicKeys must be a list of { type ? \"ssh-ed25519\"; key; } sets",
        );
        refused(attrs(&[("url", s("/r")), ("publicKeys", Value::List(vec![Value::Set(vec![])]))]), &nix(false), "publicKeys: a key has no 'key' attribute");
    }

    #[test]
    fn input_checks_are_arguments_and_a_nar_hash_locks_from_2_27() {
        let hash = "sha256-pQpattmS9VmO3ZIQUFn66az8GSmB4IvYhTTCFn6SUmo=";
        let r = Request::from_nix(&attrs(&[("url", s("/r")), ("narHash", s(hash)), ("lastModified", Value::Int(7)), ("revCount", Value::Int(3))]), &nix(false))
            .expect("valid");
        assert_eq!(r.expected.nar_hash.map(|h| h.to_sri()).as_deref(), Some(hash));
        assert_eq!((r.expected.last_modified, r.expected.rev_count), (Some(7), Some(3)));
        refused(attrs(&[("url", s("/r")), ("narHash", s("md5-abc"))]), &nix(false), "invalid narHash");
        refused(
            attrs(&[("url", s("/r")), ("revCount", Value::Int(-1))]),
            &nix(false),
            "revCount must be a commit count (a non-negative integer), not the integer -1",
        );
        refused(attrs(&[("url", s("/r")), ("lastModified", s("today"))]), &nix(false), "lastModified must be Unix seconds");
        // Pure evaluation: a narHash without rev locks only from Nix 2.27 on, with Nix's warning.
        refused(attrs(&[("url", s("/r")), ("narHash", s(hash))]), &nix(true), "needs a locked input");
        let pure_2_27 = Context::nix("2.27.0".parse().expect("valid"), "/nix/store", true);
        let r = Request::from_nix(&attrs(&[("url", s("/r")), ("narHash", s(hash))]), &pure_2_27).expect("a narHash locks");
        assert!(r.warnings[0].contains("is unlocked (e.g. lacks a Git revision) but does have a NAR hash. This is deprecated"), "{:?}", r.warnings);
        let pure_2_33 = Context::nix("2.33.0".parse().expect("valid"), "/nix/store", true);
        let r = Request::from_nix(&attrs(&[("url", s("/r")), ("narHash", s(hash))]), &pure_2_33).expect("a narHash locks");
        assert!(r.warnings[0].contains("is unlocked (e.g. lacks a Git revision) but is checked by NAR hash"), "{:?}", r.warnings);
        refused(attrs(&[("url", s("/r"))]), &pure_2_27, "needs a locked input");
    }

    #[test]
    fn the_uri_restrict_eval_checks_is_fetchgits() {
        let uri = |url: &str, version: &str| {
            let ctx = Context::nix(version.parse().expect("valid"), "/nix/store", false);
            Request::from_nix(&s(url), &ctx).expect("valid").uri_to_check()
        };
        // Nix 2.8.0 and Lix: the URL as given (Nix 2.8.0 under restrict-eval: "access to
        // absolute path '/src/repo'", "access to URI 'git@example.org/me/repo.git'").
        for legacy in ["2.8.0", "2.18.3-lix", "2.95.3-lix"] {
            assert_eq!(uri("/src/repo", legacy), "/src/repo");
            assert_eq!(uri("file:///src/repo", legacy), "file:///src/repo");
            assert_eq!(uri("git@example.org:me/repo.git", legacy), "git@example.org/me/repo.git");
            assert_eq!(uri("https://example.org/r.git", legacy), "https://example.org/r.git");
        }
        assert_eq!(uri("/src/repo", "2.26.3"), "git+file:///src/repo");
        assert_eq!(uri("git@example.org:me/repo.git", "2.35.2"), "git+ssh://git@example.org/me/repo.git");
        assert_eq!(uri("git+https://example.org/r.git", "2.35.2"), "git+https://example.org/r.git");
        // `Input::toURLString` keeps `git://` as it is (git.cc: only other schemes get `git+`).
        assert_eq!(uri("git://example.org/r.git", "2.35.2"), "git://example.org/r.git");
    }

    #[test]
    fn cli_spelling_names_flags() {
        let cli = Context::cli("/nix/store");
        let check = |pairs: &[(&str, Value)], needle: &str| refused(attrs(pairs), &cli, needle);
        check(&[("url", s("/r")), ("firstParent", Value::Bool(true))], "--first-parent only applies to truncation: add --date or --interval");
        check(&[("url", s("/r")), ("exportIgnore", Value::Bool(false)), ("compat", s("legacy"))], "--no-export-ignore needs --compat modern");
        assert_eq!(Request::from_nix(&s("/r"), &cli).expect("valid").generation, Generation::Modern);
    }
}
