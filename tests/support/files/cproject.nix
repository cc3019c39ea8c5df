# A C project built with the host's gcc through ccache (no nixpkgs: host tools by absolute
# path, which works because the store builds without a sandbox). The ccache directory is the
# output `intermediates`; given previousIntermediates (another build's `intermediates`) the
# build starts from a copy of that cache, so only sources whose preprocessed content changed
# are compiled. `nonce` only makes a new derivation (benchmarks: force a rebuild).
{ src, previousIntermediates ? null, nonce ? "" }:
derivation ({
  name = "cproject";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ ./build-cproject.sh ];
  outputs = [ "out" "intermediates" ];
  inherit src;
} // (if nonce == "" then { } else { inherit nonce; })
  // (if previousIntermediates == null then { } else { inherit previousIntermediates; }))
