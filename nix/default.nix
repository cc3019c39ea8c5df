# The fetchgit-date Nix library: builtins.fetchGit, rolled back to a date or interval boundary.
#
#   lib = import ./nix { };                                       # with the plugin loaded
#   lib = import ./nix { fetchgit-date = pkgs.fetchgit-date; };   # or "/path/to/fetchgit-date"
#   src = lib.fetchGitDate { url = ./.; interval = 86400; };
#   prev = lib.truncate { interval = 86400; } { url = "/path/to/repo"; rev = "<40 hex>"; };
#   fast = lib.incremental { interval = 86400; makePreviousBuild = truncate: ...; } drv;
#   hs = (lib.haskellFor pkgs.haskell.lib).incremental { interval = 86400; makePreviousBuild = ...; } pkg;
#
# Every fetch goes through builtins.fetchGitDate when the plugin is loaded (plugin-files); else
# through `fetchgit-date fetch --format nix` run by builtins.exec, which needs
# `allow-unsafe-native-code-during-evaluation = true`. See docs/nix.md and docs/incremental.md.
{
  # The binary, for the builtins.exec fallback only: a package providing bin/fetchgit-date
  # (built on first use, like import-from-derivation), or the path of the executable as a path
  # or string. Not needed when the plugin is loaded.
  fetchgit-date ? null,
  # nixpkgs' haskell.lib (pkgs.haskell.lib), for haskell.incremental; optional.
  haskellLib ? null,
}:
let
  bin =
    if fetchgit-date == null then null
    else if builtins.isAttrs fetchgit-date then "${fetchgit-date}/bin/fetchgit-date"
    else toString fetchgit-date;

  # Which way this evaluation reaches fetchgit-date: the plugin first.
  backend =
    if builtins ? fetchGitDate then "plugin"
    else if builtins ? exec && bin != null then "exec"
    else null;

  noBackend = who: throw "${who}: neither builtins.fetchGitDate nor builtins.exec is available: load fetchgit-date's plugin (plugin-files = /path/to/libfetchgit_date_nix_plugin.so in nix.conf, or --option plugin-files ...), or ${if bin == null then "import this library with { fetchgit-date = <the binary>; } and " else ""}enable builtins.exec with allow-unsafe-native-code-during-evaluation = true (nix.conf, or --option allow-unsafe-native-code-during-evaluation true)";

  fail = msg: throw "fetchGitDate: ${msg}";

  # Lix reports a fixed builtins.nixVersion of "2.18.3-lix" and exports like Nix 2.18.
  isLix = version: builtins.match ".*[Ll]ix.*" version != null;

  # The export generation a Nix of this version uses: Nix >= 2.20 reads blobs with libgit2
  # ("modern"), older Nix and Lix unpack `git archive` ("legacy").
  compatFor = version:
    if !(isLix version) && builtins.compareVersions version "2.20" >= 0 then "modern" else "legacy";

  # Whether pure evaluation lets a narHash without rev lock an input (Nix >= 2.27, not Lix), as
  # Change::NarHashLocksInPureEval in crates/fetchgit-date/src/nix_version.rs says.
  narHashLocks = version: !(isLix version) && builtins.compareVersions version "2.27" >= 0;

  # Pure evaluation (flakes without --impure) hides the clock.
  pureEval = !(builtins ? currentTime);

  exec = if backend == "exec" then builtins.exec else _: noBackend "fetchGitDate";

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
      # Fetch every ref: a rev need not be on ref (only matters for Nix < 2.20 and Lix).
      allRefs ? false,
      # fetchGit's default (Nix >= 2.20): apply export-ignore unless fetching submodules.
      exportIgnore ? !submodules,
      date ? null,
      interval ? null,
      firstParent ? false,
      # Whose builtins.fetchGit to reproduce, release by release (default: the running Nix, or
      # with compat alone the newest release of that generation).
      nixVersion ? null,
      # "modern" or "legacy": a generation, standing for a release of it (the running Nix when
      # it is of that generation, else the newest: 2.19.7 for legacy); it must agree with nixVersion.
      compat ? null,
      # Checked against the result, as fetchGit checks them (narHash: SRI).
      narHash ? null,
      lastModified ? null,
      revCount ? null,
      # When no commit is old enough: take the root commit (true, as Nix PR #7362) or fail.
      rootFallback ? true,
      # Git LFS contents instead of pointer files (fetchGit's lfs, Nix >= 2.27).
      lfs ? false,
      # fetchGit's commit signature check (Nix >= 2.19): with truncation, the truncated commit
      # is the one that must be signed.
      verifyCommit ? null,
      publicKey ? null,
      keytype ? null,
      publicKeys ? null,
    }:
    let
      # A path would be copied to the store by interpolation; the tool needs the repository.
      urlString = if builtins.isPath url then toString url else url;
      truncating = date != null || interval != null;
      # The release to reproduce, as crates/fetchgit-date/src/request.rs picks it; null: compat's
      # newest release, which the tool chooses (compat alone never mixes two releases' rules).
      release =
        if nixVersion != null then nixVersion
        else if compat == null || compatFor builtins.nixVersion == compat then builtins.nixVersion
        else null;
      generation = if release != null then compatFor release else compat;
      # The newest modern release has Change::NarHashLocksInPureEval, the newest legacy one not.
      narHashLocksHere = if release != null then narHashLocks release else compat == "modern";
      # Change::UnlockedWarningWording (Nix >= 2.33; the newest modern release has it).
      unlockedWarning =
        if (if release != null then !(isLix release) && builtins.compareVersions release "2.33" >= 0 else true)
        then "is checked by NAR hash. This is not reproducible and will break after garbage collection or when shared."
        else "does have a NAR hash. This is deprecated since such inputs are verifiable but may not be reproducible.";
      dateArg = if builtins.isInt date then "@${toString date}" else date;
      argv =
        [ bin "fetch" "--format=nix" "--url=${urlString}" "--name=${name}" ]
        ++ opt "nix-version" release
        ++ opt "compat" compat
        ++ opt "nar-hash" narHash
        ++ opt "last-modified" lastModified
        ++ opt "rev-count" revCount
        ++ opt "ref" ref
        ++ opt "rev" rev
        ++ opt "date" dateArg
        ++ opt "interval" interval
        ++ optional allRefs "--all-refs"
        ++ optional firstParent "--first-parent"
        ++ optional (!exportIgnore) "--no-export-ignore"
        ++ optional (!rootFallback) "--no-root-fallback"
        ++ optional lfs "--lfs"
        ++ optional submodules "--submodules"
        ++ optional (verifyCommit == true) "--verify-commit"
        ++ optional (verifyCommit == false) "--no-verify-commit"
        ++ opt "public-key" publicKey
        ++ (if publicKey != null then opt "keytype" keytype else [ ])
        ++ optional (publicKeys != null) "--public-keys=${builtins.toJSON publicKeys}";
      checked =
        if !(builtins.isString urlString) then fail "url must be a path or a string, not ${builtins.typeOf url}"
        else if builtins.substring 0 (builtins.stringLength builtins.storeDir + 1) urlString == "${builtins.storeDir}/" then fail "url ${urlString} is in the Nix store, where sources are copied without .git (a flake's ./. is such a copy): pass the repository's own location as a string"
        else if date != null && interval != null then fail "give either date or interval, not both"
        else if firstParent && !truncating then fail "firstParent only applies to truncation: add date or interval"
        else if submodules && exportIgnore then fail "exportIgnore and submodules are not supported together yet (exportIgnore = true with submodules = true): with submodules no Nix release applies export-ignore"
        else if compat != null && compat != "modern" && compat != "legacy" then fail "compat must be \"modern\" or \"legacy\", not ${builtins.toJSON compat}"
        else if !exportIgnore && generation == "legacy" && !submodules then fail "exportIgnore = false needs compat = \"modern\": legacy Nix (<= 2.19, Lix) exports with git archive, which always applies export-ignore"
        else if pureEval && rev == null && !(narHash != null && narHashLocksHere) then fail "in pure evaluation mode fetchGitDate needs a locked input: pass rev (e.g. rev = self.rev in a flake), or evaluate with --impure"
        else if pureEval && date != null && !(builtins.isInt date) then fail "in pure evaluation mode date must be Unix seconds (an integer): a date string may be relative or in the local time zone; or evaluate with --impure"
        else if pureEval && rev == null then builtins.trace "warning: Input '${urlString}' is unlocked (e.g. lacks a Git revision) but ${unlockedWarning}" (exec argv)
        else exec argv;
    in
    # fetchGit reports revCount = 0 for shallow fetches (or the revCount given, unchecked).
    checked // (if shallow then { revCount = if revCount != null then revCount else 0; } else { });

  # The plugin checks its arguments itself, with the same messages as the CLI.
  fetchAny = args: if backend == "plugin" then builtins.fetchGitDate args else fetch args;

  fetchGitDate = args:
    if backend == "plugin" then builtins.fetchGitDate args
    else fetch (if builtins.isAttrs args then args else { url = args; });

  # ---------------------------------------------------------------------------------------
  # Incremental builds: truncate, incremental, haskell.incremental (docs/incremental.md).

  isDerivation = x: builtins.isAttrs x && (x.type or null) == "derivation";
  isStorePath = s: builtins.substring 0 (builtins.stringLength builtins.storeDir + 1) s == "${builtins.storeDir}/";

  # What a value is, for error messages.
  describe = x:
    if builtins.isFunction x then "a function (is an argument missing?)"
    else if isDerivation x then "the derivation ${x.name or "?"}"
    else if builtins.isAttrs x then
      let names = builtins.attrNames x; shown = builtins.concatStringsSep ", " (if builtins.length names > 8 then builtins.genList (builtins.elemAt names) 8 ++ [ "..." ] else names);
      in "an attribute set that is not a derivation (attributes: ${if names == [ ] then "none" else shown})"
    else if builtins.isString x || builtins.isPath x then "the ${builtins.typeOf x} ${toString x}"
    else "a ${builtins.typeOf x}";

  requireBackend = who: value: if backend != null then value else noBackend who;

  # An interval as fetchgit-date takes it, refused here when it is not positive so the error
  # names the function; the tool checks the rest of a string's syntax.
  checkInterval = who: interval:
    let positive = "${who}: interval must be positive: seconds (86400) or a string with a unit (\"12h\", \"1d\", \"1w\")"; in
    if builtins.isInt interval then (if interval > 0 then interval else throw "${positive}, not ${toString interval}")
    else if builtins.isString interval then
      (if builtins.match "[[:space:]]*(-.*|0*[smhdw]?)[[:space:]]*" interval != null then throw "${positive}, not \"${interval}\"" else interval)
    else throw "${positive}, not ${describe interval}";

  # fetchGit-style arguments of a source: a path or URL string, or an attribute set with `url`
  # (and `rev`, `ref`, `name`, `submodules` or pkgs.fetchgit's `fetchSubmodules`, `shallow`,
  # `allRefs`, `exportIgnore`; other attributes, e.g. a fetch result's `outPath`, are ignored),
  # completed or overridden by `extra`.
  sourceArgs = who: extra: src:
    let
      noHistory = p: "${who}: src ${p} is a store path, which has no git history (a flake's self and ./. inside a flake are such copies): pass the repository's location and commit, e.g. { url = \"/path/to/repo\"; rev = self.rev; }";
      fromAttrs = s:
        builtins.intersectAttrs { url = 0; ref = 0; rev = 0; name = 0; shallow = 0; allRefs = 0; exportIgnore = 0; submodules = 0; } s
        // (if s ? submodules || !(s ? fetchSubmodules) then { } else { submodules = s.fetchSubmodules; });
      base =
        if builtins.isPath src || builtins.isString src then { url = src; }
        else if builtins.isAttrs src then fromAttrs src
        else throw "${who}: src must be a path, a URL or a fetchGit-style attribute set { url; rev; ... }, not ${describe src}";
      args = base // extra;
      url = toString args.url;
    in
    if !(args ? url) then
      (if builtins.isAttrs src && src ? outPath then throw (noHistory (toString src.outPath))
       else throw "${who}: src has no url: give the repository as a path or URL, or as { url; rev; ... }")
    else if !(builtins.isPath args.url || builtins.isString args.url) then throw "${who}: src's url must be a path or a string, not ${describe args.url}"
    else if isStorePath url then throw (noHistory url)
    else args // { url = url; };

  # truncate { interval; firstParent ? true; rootFallback ? true; compat ? <running Nix's>; } src
  #
  # The fetch result (builtins.fetchGit's attributes) of the last commit at or before the
  # interval boundary of src's own commit (its committer time rounded down to a multiple of
  # interval), found by walking from src.rev: an ancestor of the commit being built, and a
  # function of the commit graph only. Without a rev the walk starts at the tip of src.ref (or
  # the current branch), which moves: that is impure, traced as a warning, refused in pure
  # evaluation, and reported as truncation.pure = false.
  truncateOptions = [ "interval" "firstParent" "rootFallback" "compat" ];
  truncate = options:
    if !(builtins.isAttrs options) then
      throw "truncate: the first argument is the options { interval; firstParent ? true; ... }, the source comes second: truncate { interval = 86400; } src; got ${describe options}"
    else if options ? url || options ? rev || options ? src || options ? ref then
      throw "truncate: the source is now truncate's second argument: write truncate { interval = 86400; } { url = ...; rev = ...; } (or truncate { interval = 86400; } ./repo) instead of truncate { url = ...; rev = ...; interval = ...; }; interval no longer defaults to 86400, and firstParent now defaults to true (docs/incremental.md, \"Migrating\")"
    else if removeAttrs options truncateOptions != { } then
      throw "truncate: unknown option ${builtins.head (builtins.attrNames (removeAttrs options truncateOptions))}: the options are ${builtins.concatStringsSep ", " truncateOptions}; fetchGit arguments (name, ref, rev, ...) belong to src"
    else if !(options ? interval) then
      throw "truncate: interval is required: seconds (86400) or a string with a unit (\"1d\"), e.g. truncate { interval = 86400; } src"
    else
      src: truncateWith options { } src;

  truncateWith = options: extra: src:
    let
      args = sourceArgs "truncate" extra src;
      interval = checkInterval "truncate" options.interval;
      firstParent = options.firstParent or true;
      hasRev = (args.rev or null) != null;
      from = if (args.ref or null) != null then "the tip of ${args.ref}" else "the tip of the current branch";
      result = fetchAny (args // {
        inherit interval firstParent;
        rootFallback = options.rootFallback or true;
      } // (if options ? compat then { inherit (options) compat; } else { }));
      marked = result // { truncation = result.truncation // { pure = hasRev; }; };
    in
    if !(builtins.isBool firstParent) then throw "truncate: firstParent must be true or false, not ${describe firstParent}"
    else if builtins.seq interval hasRev then marked
    else if pureEval then
      throw "truncate: src has no rev, and pure evaluation mode forbids walking from ${from} of ${args.url}, which moves: pass src = { url = ...; rev = self.rev; } (or extraFetchGitArgs.rev), or evaluate with --impure"
    else
      builtins.trace "warning: truncate: ${args.url} has no rev, so the walk starts at ${from}, which moves: the result is impure (not reproducible); pass a rev (src = { url; rev; }, or extraFetchGitArgs = { rev = ...; }) to pin it"
        marked;

  # Wires `drv` to restore intermediates: a stdenv derivation through overrideAttrs, a plain
  # `derivation` by re-making it; either way the attribute previousIntermediates (the default
  # the Haskell builder also uses) holds the intermediates' store path.
  setPreviousIntermediates = intermediates: drv:
    if drv ? overrideAttrs then drv.overrideAttrs (_: { previousIntermediates = intermediates; })
    else if drv ? drvAttrs then derivation (drv.drvAttrs // { previousIntermediates = intermediates; })
    else throw "incremental: cannot wire ${describe drv}: it has neither overrideAttrs nor drvAttrs; pass useIntermediates";

  # incremental { interval; makePreviousBuild; ... } drv
  #
  # `drv` reusing the intermediates of one full build per interval: makePreviousBuild is given
  # `truncate` (the function above with this call's options applied: src -> fetch result)
  # and returns the full build of the truncated source. The builder-specific parts are
  # parameters: prepareFullBuild (make that build keep its intermediates), intermediatesOutput
  # (which of its outputs holds them) and useIntermediates (how drv restores them).
  incremental =
    {
      interval,
      makePreviousBuild,
      firstParent ? true,
      rootFallback ? true,
      compat ? null,
      # fetchGit arguments merged into every src given to truncate (e.g. { rev = ...; } when
      # the source is a path, or { url = "/path/to/repo"; } when it is a flake's self).
      extraFetchGitArgs ? { },
      prepareFullBuild ? (build: build),
      intermediatesOutput ? "intermediates",
      useIntermediates ? setPreviousIntermediates,
    }:
    drv:
    let
      who = "incremental";
      options = { inherit interval firstParent rootFallback; } // (if compat != null then { inherit compat; } else { });
      truncate' = src: truncateWith options extraFetchGitArgs src;
      made = makePreviousBuild truncate';
      checked =
        if isDerivation made then made
        else throw "${who}: makePreviousBuild must return a derivation (the full build of the truncated source), but it returned ${describe made}";
      previousBuild = prepareFullBuild checked;
      intermediates =
        if !(isDerivation previousBuild) then throw "${who}: prepareFullBuild must return a derivation, but it returned ${describe previousBuild}"
        else if previousBuild ? ${intermediatesOutput} && isDerivation previousBuild.${intermediatesOutput} then previousBuild.${intermediatesOutput}
        else throw "${who}: the previous build ${previousBuild.name or ""} has no output \"${intermediatesOutput}\" (its outputs: ${builtins.concatStringsSep ", " (previousBuild.outputs or [ "out" ])}): make the full build install its intermediates there (prepareFullBuild), or set intermediatesOutput";
      result = useIntermediates intermediates drv;
    in
    requireBackend who (
      if !(builtins.isFunction makePreviousBuild) then throw "${who}: makePreviousBuild must be a function from truncate to the full build (truncate: ...), not ${describe makePreviousBuild}"
      else if !(builtins.isAttrs extraFetchGitArgs) then throw "${who}: extraFetchGitArgs must be an attribute set of fetchGit arguments, not ${describe extraFetchGitArgs}"
      else if !(isDerivation drv) then throw "${who}: the last argument must be the derivation to build incrementally, not ${describe drv}"
      else builtins.seq (checkInterval who interval) (
        if isDerivation result then result // { inherit previousBuild; }
        else throw "${who}: useIntermediates must return a derivation, but it returned ${describe result}")
    );

  # haskell.incremental { interval; makePreviousBuild; extraFetchGitArgs ? {}; } pkg: the
  # interface of the nixpkgs proposal, wired through nixpkgs' Haskell builder: the previous
  # build gets doInstallIntermediates and enableSeparateIntermediatesOutput (output
  # `intermediates`), `pkg` gets previousIntermediates, both with haskellLib.compose.overrideCabal.
  # When the full build is of another GHC or package version than `pkg`, `pkg` is returned as
  # it is (previousBuild = null, with a warning): there is nothing of it to restore.
  haskellFor = haskellLib: {
    incremental =
      { interval, makePreviousBuild, extraFetchGitArgs ? { } }:
      pkg:
      let
        who = "haskell.incremental";
        overrideCabal =
          if builtins.isAttrs haskellLib && haskellLib ? compose.overrideCabal then haskellLib.compose.overrideCabal
          else throw "${who}: haskellLib must be nixpkgs' haskell.lib (with compose.overrideCabal), not ${describe haskellLib}";
        ghcVersion = pkg.compiler.version or null;
        wired = incremental {
          inherit interval makePreviousBuild extraFetchGitArgs;
          prepareFullBuild = overrideCabal (_: { doInstallIntermediates = true; enableSeparateIntermediatesOutput = true; });
          intermediatesOutput = "intermediates";
          useIntermediates = intermediates: overrideCabal (_: { previousIntermediates = intermediates; });
        } pkg;
        # generic-builder.nix restores ${previousIntermediates}/share/haskell/<GHC version>/<pname>-<version>/dist/build
        # named by the package being built: a full build by another GHC or of another version
        # (the day a commit bumps either, when makePreviousBuild uses the old commit's recipe)
        # has no such directory, and `cp` would fail the build. Its objects are useless anyway
        # (another GHC's interfaces, another unit id), so that day builds from scratch.
        restoreKey = p: "${p.compiler.version or "?"}/${p.pname or "?"}-${p.version or "?"}";
        previous = wired.previousBuild;
        mismatch = previous ? compiler.version && previous ? pname && previous ? version && restoreKey previous != restoreKey pkg;
        fromScratch = builtins.trace "warning: haskell.incremental: the full build ${previous.name or ""} is of GHC ${previous.compiler.version or "?"}, ${previous.pname or "?"} ${previous.version or "?"}, but ${pkg.name or "the package"} of GHC ${ghcVersion}, ${pkg.pname or "?"} ${pkg.version or "?"}: its intermediates cannot be restored (nixpkgs looks for share/haskell/${ghcVersion}/${pkg.pname or "?"}-${pkg.version or "?"}), so this build starts from scratch; the next interval's full build will match" (pkg // { previousBuild = null; });
      in
      requireBackend who (
        if !(isDerivation pkg) then throw "${who}: the last argument must be a Haskell package (a derivation of nixpkgs' Haskell builder), not ${describe pkg}"
        else if !(builtins.isString ghcVersion) then throw "${who}: cannot tell which GHC builds ${pkg.name or "the package"}: it has no compiler.version (passthru of nixpkgs' Haskell builder); pass a package from a haskell.packages set"
        else if builtins.compareVersions ghcVersion "9.4" < 0 then
          throw "${who}: ${pkg.name or "the package"} is built with GHC ${ghcVersion}, but incremental builds need GHC >= 9.4: older GHCs decide recompilation by timestamps, and restored intermediates (timestamps reset to 1970) would silently be reused for changed sources; use haskell.packages.ghc94 or newer"
        else if mismatch then fromScratch
        else wired
      );
  };

  haskell =
    if haskellLib != null then haskellFor haskellLib
    else {
      incremental = throw "haskell.incremental needs nixpkgs' haskell.lib: import fetchgit-date's nix/ with { fetchgit-date = ...; haskellLib = pkgs.haskell.lib; }, or use (lib.haskellFor pkgs.haskell.lib).incremental";
    };
in
{
  inherit fetchGitDate truncate incremental haskell haskellFor compatFor pureEval;
  # The generation used when `compat` is not given.
  defaultCompat = compatFor builtins.nixVersion;
  # The executable the library runs through builtins.exec (null when not given).
  program = bin;
  # "plugin" (builtins.fetchGitDate), "exec" (builtins.exec of program) or null (neither).
  inherit backend;
}
