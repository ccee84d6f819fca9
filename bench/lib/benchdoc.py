"""Rewrite one benchmark's section of docs/benchmarks.md, between the markers
<!-- bench/NAME: start ... --> and <!-- bench/NAME: end -->, appending it when absent."""
import os
import re
import sys


def write_section(doc_path, name, body):
    start = f"<!-- bench/{name}: start (written by bench/{name}/run.sh; edits here are overwritten) -->"
    end = f"<!-- bench/{name}: end -->"
    section = f"{start}\n{body.strip()}\n{end}"
    text = open(doc_path).read() if os.path.exists(doc_path) else "# Benchmarks\n"
    pat = re.compile(re.escape(f"<!-- bench/{name}: start") + r".*?" + re.escape(end), re.S)
    if pat.search(text):
        text = pat.sub(lambda m: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(doc_path, "w") as f:
        f.write(text)
    print(f"[bench/{name}] wrote {doc_path}", file=sys.stderr)
