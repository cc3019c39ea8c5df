#!/usr/bin/env python3
"""Writes a Cabal package of N modules with a nearly serial import graph (bench/ghc-demo.sh):
M0000 imports Paths_gen, every Mi imports M(i-1) and, every tenth, also M(i-5), so a change at
the bottom can reach every module and GHC's hash-based recompilation decides how far it goes.

Each module exports
  f<i>: a small function whose body is the previous module's plus a constant: at -O its
        unfolding is in the interface, so changing f0000 changes every importer's code
        (inlining across modules: everything recompiles);
  g<i>: the same under NOINLINE: changing g0000's body changes only M0000's object code;
plus some bulk (a data type with derived instances) so that a module takes GHC a moment. One more
module, Splice, runs g0000 in a Template Haskell splice: its interface does not change when
g0000's body does, but the splice's result may, so GHC must recompile it (as it must a test
suite whose Template Haskell runs the library's code).

  gen-haskell.py DIR N [VARIANT]
VARIANT: base (default), leaf (a changed body in the top module, which nothing imports),
noinline (g0000's body changed), inline (f0000's body changed).
"""
import os
import sys


def module(i, variant):
    name = f"M{i:04d}"
    lines = [f"module {name} (f{i:04d}, g{i:04d}, T{i:04d}(..)) where", ""]
    if i == 0:
        lines.append("import qualified Paths_gen")
        lines.append("import Data.Version (showVersion)")
    else:
        prev = i - 1
        lines.append(f"import M{prev:04d} (f{prev:04d}, g{prev:04d})")
        if i % 10 == 0 and i >= 5:
            lines.append(f"import M{i - 5:04d} (T{i - 5:04d}(..))")
    lines.append("")
    lines.append(f"data T{i:04d} = A{i:04d} Int | B{i:04d} String [Int] | C{i:04d} {{ x{i:04d} :: Int, y{i:04d} :: Maybe Bool }}")
    lines.append("  deriving (Show, Eq, Ord)")
    lines.append("")
    if i == 0:
        f_body = "x * 2 + length (showVersion Paths_gen.version)"
        if variant == "inline":
            f_body = "x * 3 + length (showVersion Paths_gen.version)"
        g_body = "x + 1"
        if variant == "noinline":
            g_body = "x + 2"
    else:
        f_body = f"f{i - 1:04d} x + {i}"
        g_body = f"g{i - 1:04d} (x + {i}) `mod` 1000003"
    top = variant == "leaf"
    lines.append(f"f{i:04d} :: Int -> Int")
    lines.append(f"f{i:04d} x = {f_body}")
    lines.append("")
    lines.append(f"{{-# NOINLINE g{i:04d} #-}}")
    lines.append(f"g{i:04d} :: Int -> Int")
    lines.append(f"g{i:04d} x = {g_body}")
    lines.append("")
    return lines, top


def main():
    root, n = sys.argv[1], int(sys.argv[2])
    variant = sys.argv[3] if len(sys.argv) > 3 else "base"
    if variant not in ("base", "leaf", "noinline", "inline"):
        sys.exit(f"gen-haskell.py: unknown variant {variant!r}: base, leaf, noinline or inline")
    os.makedirs(os.path.join(root, "src"), exist_ok=True)
    for i in range(n):
        lines, top = module(i, variant)
        if top and i == n - 1:
            lines.append("-- changed: a body in the module nothing imports")
            lines.append(f"h{i:04d} :: Int")
            lines.append(f"h{i:04d} = f{i:04d} 1 + g{i:04d} 2")
        with open(os.path.join(root, "src", f"M{i:04d}.hs"), "w") as out:
            out.write("\n".join(lines) + "\n")
    with open(os.path.join(root, "src", "Splice.hs"), "w") as out:
        out.write("{-# LANGUAGE TemplateHaskell #-}\n"
                  "module Splice (spliced) where\n\n"
                  "import Language.Haskell.TH (integerL, litE)\n"
                  "import M0000 (g0000)\n\n"
                  "spliced :: Int\n"
                  "spliced = $(litE (integerL (fromIntegral (g0000 41))))\n")
    modules = ",\n    ".join([f"M{i:04d}" for i in range(n)] + ["Splice"])
    with open(os.path.join(root, "gen.cabal"), "w") as out:
        out.write(f"""cabal-version: 2.2
name: gen
version: 0.1
build-type: Simple

library
  hs-source-dirs: src
  default-language: Haskell2010
  build-depends: base, template-haskell
  other-modules: Paths_gen
  autogen-modules: Paths_gen
  exposed-modules:
    {modules}
""")
    with open(os.path.join(root, "Setup.hs"), "w") as out:
        out.write("import Distribution.Simple\nmain = defaultMain\n")


main()
