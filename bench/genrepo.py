#!/usr/bin/env python3
"""Writes a deterministic `git fast-import` stream for a large, realistic repository.

Usage: genrepo.py COMMITS FILES [SEED] | git fast-import --quiet

Shape (defaults of bench/run.sh: 82000 commits, 5200 files, about 63 MB tree, close to git/git):
- one import commit with all files: ~300 "medium" files of 100-200 KB, a few files of 1-2.2 MiB,
  the rest small (0.5-4.5 KB), spread over ~300 directories, a few executables and symlinks, a
  git/git-like .gitattributes (`*.bat text eol=crlf`, an export-ignore directory);
- then commits that touch 1-3 files each (60/30/10 %), mostly small "hot" files, rarely a medium
  or large one, sometimes adding a file;
- committer dates increase every 10-30 minutes, with a few skewed commits older than their parent;
- every ~3000 commits a topic branch of 3-15 commits forks off, its commits interleaved in time
  with main's, and is merged back with a merge commit.
Everything comes from random.Random(SEED), so the same arguments always give the same repository.
"""

import random
import sys

COMMITS = int(sys.argv[1])
FILES = int(sys.argv[2])
SEED = int(sys.argv[3]) if len(sys.argv) > 3 else 1

rng = random.Random(SEED)
out = sys.stdout.buffer

WORDS = (
    "static int void char const struct return if else for while size_t unsigned buf len "
    "repo commit tree blob object oid hash parse read write flush strbuf free alloc die "
    "error warning options argc argv path index ref head packed loose delta zlib inflate"
).split()


def make_pool(size):
    """About `size` bytes of source-like text lines."""
    lines, total = [], 0
    while total < size:
        indent = "\t" * rng.randint(0, 3)
        line = indent + " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 12))) + ";\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()


POOL = make_pool(4 << 20)


def content(path, version, size):
    """Bytes of `path` at `version`: a unique header and a slice of the pool."""
    head = f"/* {path} version {version} */\n".encode()
    off = (hash((path, version)) & 0x7FFFFFFF) % (len(POOL) - size - 1)
    return head + POOL[off:off + size]


# Python's str hash is salted per process; make it deterministic.
def hash(key):  # noqa: A001 - deliberately shadows the builtin for determinism
    h = 1469598103934665603
    for part in key:
        for b in str(part).encode():
            h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


# Directories: ~20 top-level, some with sub- and sub-sub-directories.
dirs = []
for t in range(20):
    top = f"d{t:02d}"
    dirs.append(top)
    for s in range(rng.randint(2, 12)):
        sub = f"{top}/s{s:02d}"
        dirs.append(sub)
        for u in range(rng.choice([0, 0, 0, 1, 2, 3])):
            dirs.append(f"{sub}/u{u}")
EXTS = ["c", "c", "c", "h", "h", "sh", "txt", "md", "py", "pl", "bat"]

files = {}  # path -> [size, version, mode, base size]
order = []  # paths, hot (frequently touched) first


def new_path(i):
    d = dirs[i % len(dirs)] if i % 7 else dirs[rng.randrange(len(dirs))]
    return f"{d}/f{i:05d}.{rng.choice(EXTS)}"


BIG = [(1 << 20) + 100_000, (1 << 20) + 300_000, (1 << 20) + 600_000, (2 << 20) + 200_000]
N_MEDIUM = max(1, FILES * 300 // 5200)
for i in range(FILES - 1):
    path = new_path(i)
    if i < len(BIG):
        size = BIG[i]
        path = f"assets/big{i}.bin"
    elif i < len(BIG) + N_MEDIUM:
        size = rng.randint(100_000, 200_000)
    else:
        size = rng.randint(500, 4500)
    mode = "100755" if path.endswith(".sh") and rng.random() < 0.5 else "100644"
    files[path] = [size, 0, mode, size]  # size, version, mode, base size
    order.append(path)
small = order[len(BIG) + N_MEDIUM:]
medium = order[len(BIG):len(BIG) + N_MEDIUM]
big = order[:len(BIG)]
rng.shuffle(small)

ATTRS = (
    b"* whitespace=!indent,trail,space\n"
    b"*.[ch] whitespace=indent,trail,space diff=cpp\n"
    b"*.sh whitespace=indent,trail,space text eol=lf\n"
    b"*.bat text eol=crlf\n"
    b"/d19/s00 export-ignore\n"
)

mark = 0
clock = 1112911993  # 2005-04-07, like git/git's first commit


def data(b):
    out.write(b"data %d\n" % len(b))
    out.write(b)
    out.write(b"\n")


def commit(ref, changes, parents=(), msg=None):
    """Writes a commit on `ref`; returns its mark. `changes` are (path, bytes, mode)."""
    global mark, clock
    mark += 1
    clock += rng.randint(600, 1800)
    when = clock
    if rng.random() < 1 / 8000:
        when = clock - rng.randint(3600, 2 * 86400)  # a committer with a skewed clock
    who = rng.randrange(40)
    out.write(b"commit %s\nmark :%d\n" % (ref.encode(), mark))
    out.write(b"author Dev %d <dev%d@example.org> %d +0000\n" % (who, who, when - rng.randint(0, 5000)))
    out.write(b"committer Dev %d <dev%d@example.org> %d +0000\n" % (who, who, when))
    data((msg or f"change {mark}\n\nTouches {len(changes)} file(s).\n").encode())
    for i, p in enumerate(parents):
        out.write(b"%s :%d\n" % (b"from" if i == 0 else b"merge", p))
    for path, body, mode in changes:
        out.write(b"M %s inline %s\n" % (mode.encode(), path.encode()))
        data(body)
    out.write(b"\n")
    return mark


def random_changes(ref_tag):
    changes = []
    for _ in range(rng.choices([1, 2, 3], [60, 30, 10])[0]):
        r = rng.random()
        if r < 0.0002:
            path = rng.choice(big)
        elif r < 0.005:
            path = rng.choice(medium)
        elif r < 0.007:
            path = new_path(len(order))
            files[path] = [rng.randint(500, 4500), 0, "100644", 0]
            files[path][3] = files[path][0]
            order.append(path)
            small.append(path)
        else:
            path = small[int(len(small) * rng.random() ** 3)]  # a few hot files
        f = files[path]
        f[1] += 1
        f[0] = max(200, f[3] + rng.randint(-300, 300))  # sizes wander, but do not grow
        changes.append((path, content(path, f"{ref_tag}{f[1]}", f[0]), f[2]))
    return changes


initial = [(p, content(p, 0, files[p][0]), files[p][2]) for p in order]
initial.append((".gitattributes", ATTRS, "100644"))
out.write(b"reset refs/heads/main\n")
main = commit("refs/heads/main", initial, msg="Initial import\n")
symlinks = [("d00/link-to-readme", b"../d01/f00001.c", "120000"), ("d02/tools", b"../d03", "120000")]
main = commit("refs/heads/main", symlinks, parents=(main,))
made = 2
next_topic = 3000
while made < COMMITS:
    if made >= next_topic and COMMITS - made > 40:
        next_topic += rng.randint(2500, 3500)
        fork, topic = main, None
        for k in range(rng.randint(3, 15)):
            topic = commit("refs/heads/topic", random_changes("t"), parents=(topic or fork,))
            main = commit("refs/heads/main", random_changes(""), parents=(main,))
            made += 2
        main = commit("refs/heads/main", [], parents=(main, topic), msg="Merge branch 'topic'\n")
        made += 1
        continue
    main = commit("refs/heads/main", random_changes(""), parents=(main,))
    made += 1
out.write(b"done\n")
out.flush()
