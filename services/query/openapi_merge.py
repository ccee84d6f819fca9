#!/usr/bin/env python3
"""Merge the OpenAPI fragments of services/query/openapi/*.json into the one document
oa-query serves: openapi_merge.py OUTPUT FRAGMENT... (in name order; 00-base.json first).

Each fragment is a partial OpenAPI object owned by one part of the API (base and health,
collect, events, management, stats, realtime, privacy), so engineers adding routes touch
only their own file. Top-level "tags" lists are concatenated; "paths" and every map under
"components" are merged key by key; any other top-level key may appear once. The same
path, tag or component defined twice is an error, never a silent override."""
import json
import sys


def merge(fragments):
    doc = {}
    for name, frag in fragments:
        for key, value in frag.items():
            if key == "tags":
                seen = {t["name"] for t in doc.get("tags", [])}
                for t in value:
                    if t["name"] in seen:
                        raise SystemExit(f"{name}: tag {t['name']!r} defined twice")
                doc.setdefault("tags", []).extend(value)
            elif key == "paths":
                paths = doc.setdefault("paths", {})
                for p, item in value.items():
                    if p in paths:
                        raise SystemExit(f"{name}: path {p!r} defined twice")
                    paths[p] = item
            elif key == "components":
                comps = doc.setdefault("components", {})
                for section, entries in value.items():
                    dst = comps.setdefault(section, {})
                    for k, v in entries.items():
                        if k in dst:
                            raise SystemExit(f"{name}: components.{section}.{k} defined twice")
                        dst[k] = v
            elif key in doc:
                raise SystemExit(f"{name}: top-level {key!r} defined twice")
            else:
                doc[key] = value
    return doc


def main():
    out, srcs = sys.argv[1], sorted(sys.argv[2:], key=lambda p: p.rsplit("/", 1)[-1])
    frags = []
    for s in srcs:
        with open(s, encoding="utf-8") as f:
            frags.append((s, json.load(f)))
    doc = merge(frags)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
