#!/usr/bin/env python3
"""CPU time (user + system, minimum of N runs) of a cold `fetch --no-store --rev` by two builds.

Usage: cold-cpu.py BEFORE_BINARY AFTER_BINARY REPO [RUNS]

REPO is a bare repository with a branch `main` (e.g. `git init --bare big &&
bench/genrepo.py 500 5200 | git -C big fast-import --quiet && git -C big repack -a -d`). The
fetchgit-date cache is emptied before every run; both Nix generations are measured
(--nix-version 2.8.0 and 2.34.8). CPU time rather than wall time, because the shared machine is
loaded; runs of the two builds alternate.
"""
import os
import resource
import shutil
import subprocess
import sys
import tempfile

before, after, repo = sys.argv[1:4]
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 5
rev = subprocess.check_output(["git", "-C", repo, "rev-parse", "main"]).decode().strip()
cache = tempfile.mkdtemp(prefix="cold-cpu-")
for version in ["2.8.0", "2.34.8"]:
    best = {"before": float("inf"), "after": float("inf")}
    for _ in range(runs):
        for name, binary in [("before", before), ("after", after)]:
            shutil.rmtree(cache, ignore_errors=True)
            start = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(
                [binary, "fetch", "--no-store", "--nix-version", version, "--url", repo, "--rev", rev, "--ref", "main"],
                env=dict(os.environ, XDG_CACHE_HOME=cache),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
            end = resource.getrusage(resource.RUSAGE_CHILDREN)
            best[name] = min(best[name], (end.ru_utime - start.ru_utime) + (end.ru_stime - start.ru_stime))
    print(f"--nix-version {version}: before {best['before']:.3f} s, after {best['after']:.3f} s (after / before {best['after'] / best['before']:.2f})")
shutil.rmtree(cache, ignore_errors=True)
