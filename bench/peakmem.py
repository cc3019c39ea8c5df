#!/usr/bin/env python3
"""peakmem.py CMD...: runs CMD (stdout discarded) and prints "max_rss_kb rss_anon_kb rss_file_kb".

max_rss_kb is the kernel's peak RSS (getrusage, what `/usr/bin/time -v` prints). It counts pages of
mmap'ed pack files that were touched, which are page cache, not memory the process allocated.
rss_anon_kb / rss_file_kb are the largest RssAnon / RssFile seen while sampling /proc every 2 ms:
RssAnon is the heap, the number that must stay bounded by the largest file.
"""
import os
import resource
import subprocess
import sys
import time

proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
anon = file_ = 0
status = f"/proc/{proc.pid}/status"
while proc.poll() is None:
    try:
        with open(status) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    anon = max(anon, int(line.split()[1]))
                elif line.startswith("RssFile:"):
                    file_ = max(file_, int(line.split()[1]))
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    time.sleep(0.002)
if proc.returncode != 0:
    sys.exit(f"peakmem: {sys.argv[1:]} failed with {proc.returncode}")
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, anon, file_)
