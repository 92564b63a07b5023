#!/usr/bin/env python3
"""Generates the plain-Markdown ODS reference docs of QuantX.

Runs mlir-tblgen's doc backends over the dialect and pass definitions and
removes the Hugo shortcodes they emit, so the result reads well on any
Markdown viewer. Usage:

    gen_docs.py --tblgen PATH --src SRC_ROOT --out OUT_DIR
"""

import argparse
import os
import re
import subprocess
import sys

DOCS = [
    # (output name, tablegen backend args, td file relative to the source)
    ("Dialects/QuantX.md", ["-gen-dialect-doc", "-dialect=quantx"],
     "include/quantx/Dialect/QuantX/IR/QuantXOps.td"),
    ("Passes.md", ["-gen-pass-doc"], "include/quantx/Conversion/Passes.td"),
    ("CodegenPasses.md", ["-gen-pass-doc"], "include/quantx/Codegen/Passes.td"),
]


def clean(text: str) -> str:
    text = re.sub(r"\[TOC\]\n*", "", text)
    text = re.sub(r"\{\{%[^%]*%\}\}\n?", "", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tblgen", required=True)
    parser.add_argument("--src", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--include", action="append", default=[])
    args = parser.parse_args()
    for name, backend, td in DOCS:
        cmd = [args.tblgen, *backend, os.path.join(args.src, td),
               "-I", os.path.join(args.src, "include")]
        for inc in args.include:
            cmd += ["-I", inc]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            return 1
        header = ("<!-- Generated from ODS by scripts/gen_docs.py; do not edit. "
                  "Rebuild with `ninja -C build quantx-update-docs`. -->\n\n")
        path = os.path.join(args.out, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(header + clean(result.stdout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
