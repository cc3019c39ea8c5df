# The fetchgit-date Nix library: builtins.fetchGit, rolled back to a date or interval boundary.
#
#   lib = import ./nix { fetchgit-date = pkgs.fetchgit-date; };   # or "/path/to/fetchgit-date"
#   src = lib.fetchGitDate { url = ./.; interval = 86400; };
#
# Everything runs `fetchgit-date fetch --format nix` through builtins.exec, which needs
# `allow-unsafe-native-code-during-evaluation = true`. See docs/nix.md.
{
  # The binary: a package providing bin/fetchgit-date (built on first use, like
  # import-from-derivation), or the path of the executable as a path or string.
  fetchgit-date,
}:
let
  bin =
    if builtins.isAttrs fetchgit-date then "${fetchgit-date}/bin/fetchgit-date"
    else toString fetchgit-date;

  fail = msg: throw "fetchGitDate: ${msg}";

  # Lix reports a fixed builtins.nixVersion of "2.18.3-lix" and exports like Nix 2.18.
  isLix = version: builtins.match ".*[Ll]ix.*" version != null;

  # The export generation a Nix of this version uses: Nix >= 2.20 reads blobs with libgit2
  # ("modern"), older Nix and Lix unpack `git archive` ("legacy").
  compatFor = version:
    if !(isLix version) && builtins.compareVersions version "2.20" >= 0 then "modern" else "legacy";

  # Pure evaluation (flakes without --impure) hides the clock.
  pureEval = !(builtins ? currentTime);

  exec =
    if builtins ? exec then builtins.exec
    else _: fail "builtins.exec is disabled: enable it with allow-unsafe-native-code-during-evaluation = true in nix.conf, or pass --option allow-unsafe-native-code-during-evaluation true";

  optional = cond: x: if cond then [ x ] else [ ];
  opt = flag: value: optional (value != null) "--${flag}=${toString value}";

  # What builtins.fetchGit takes (Nix 2.8 to 2.2x), plus date, interval, firstParent; see docs/nix.md.
  fetch =
    {
      url,
      ref ? null,
      rev ? null,
      name ? "source",
      submodules ? false,
      shallow ? false,
      # Only says where a remote rev may be found; we read the repository's objects directly.
      allRefs ? false,
      # fetchGit's default (Nix >= 2.20): apply export-ignore unless fetching submodules.
      exportIgnore ? !submodules,
      date ? null,
      interval ? null,
      firstParent ? false,
      # "modern" or "legacy": whose export to reproduce; default: the running Nix's.
      compat ? compatFor builtins.nixVersion,
      # When no commit is old enough: take the root commit (true, as Nix PR #7362) or fail.
      rootFallback ? true,
    }:
    let
      # A path would be copied to the store by interpolation; the tool needs the repository.
      urlString = if builtins.isPath url then toString url else url;
      truncating = date != null || interval != null;
      dateArg = if builtins.isInt date then "@${toString date}" else date;
      argv =
        [ bin "fetch" "--format=nix" "--url=${urlString}" "--name=${name}" "--compat=${compat}" ]
        ++ opt "ref" ref
        ++ opt "rev" rev
        ++ opt "date" dateArg
        ++ opt "interval" interval
        ++ optional firstParent "--first-parent"
        ++ optional (!exportIgnore) "--no-export-ignore"
        ++ optional (!rootFallback) "--no-root-fallback";
      checked =
        if !(builtins.isString urlString) then fail "url must be a path or a string, not ${builtins.typeOf url}"
        else if builtins.substring 0 (builtins.stringLength builtins.storeDir + 1) urlString == "${builtins.storeDir}/" then fail "url ${urlString} is in the Nix store, where sources are copied without .git (a flake's ./. is such a copy): pass the repository's own location as a string"
        else if date != null && interval != null then fail "give either date or interval, not both"
        else if firstParent && !truncating then fail "firstParent only applies to truncation: add date or interval"
        else if submodules then fail "submodules = true is not supported yet; fetch without submodules (gitlinks become empty directories, as in fetchGit)"
        else if compat != "modern" && compat != "legacy" then fail "compat must be \"modern\" or \"legacy\", not ${builtins.toJSON compat}"
        else if !exportIgnore && compat == "legacy" then fail "exportIgnore = false needs compat = \"modern\": legacy Nix (<= 2.19, Lix) exports with git archive, which always applies export-ignore"
        else if pureEval && rev == null then fail "in pure evaluation mode fetchGitDate needs a locked input: pass rev (e.g. rev = self.rev in a flake), or evaluate with --impure"
        else if pureEval && date != null && !(builtins.isInt date) then fail "in pure evaluation mode date must be Unix seconds (an integer): a date string may be relative or in the local time zone; or evaluate with --impure"
        else exec argv;
    in
    # fetchGit reports revCount = 0 for shallow fetches.
    checked // (if shallow then { revCount = 0; } else { });

  fetchGitDate = args: fetch (if builtins.isAttrs args then args else { url = args; });

  # Roll a repository back to the last commit at or before the interval boundary of `rev`
  # (rev's committer time rounded down to a multiple of interval; 86400 = midnight UTC).
  # `rev` may come from `src`, anything with a rev attribute (a fetchGit result, a flake's self).
  truncate =
    { rev ? null, src ? null, interval ? 86400, ... }@args:
    let
      rev' =
        if rev != null then rev
        else if src != null && src ? rev then src.rev
        else fail "truncate needs rev, or src with a rev attribute (a flake's self has none while its tree is dirty)";
    in
    if args ? date then fail "truncate rolls back to an interval boundary: give interval, not date (or call fetchGitDate)"
    else fetch (removeAttrs args [ "src" ] // { rev = rev'; inherit interval; });
in
{
  inherit fetchGitDate truncate compatFor pureEval;
  # The generation used when `compat` is not given.
  defaultCompat = compatFor builtins.nixVersion;
  # The executable the library runs.
  program = bin;
}
