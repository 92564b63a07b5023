"""Command line: ``python -m quantx.gguf <command> ...``

  dump FILE [--max-array N]     header, metadata and tensor table
  report FILE                   per-tensor type, bytes, bits per weight
  export-llama OUT --type T     the example character LM as a llama.cpp model
               [--weights NPZ]  (default: quantx.models.load("charlm"))

Errors print one line to stderr and exit with status 1; no partial output
file is left behind.
"""

import argparse
import sys


def _export_llama(args):
    from . import llama
    if args.weights:
        from ..models.charlm import CharLlama, CharTokenizer, LlamaConfig
        from ..models.data import load_weights
        state, meta = load_weights(args.weights)
        model = CharLlama(LlamaConfig.from_json(meta["config"]))
        model.load_state_dict(state)
        model.eval()
        tok = CharTokenizer.from_json(meta["tokenizer"])
    else:
        from .. import models
        model, tok = models.load("charlm")
    report = print if args.report else None
    entries = llama.export_llama(args.output, model, tok, args.type,
                                 error_report=report, name=args.name)
    total = sum(e.nbytes for e in entries)
    print(f"wrote {args.output}: {len(entries)} tensors, {total} bytes of tensor "
          f"data, file type {args.type}", file=sys.stderr)


def main(argv=None):
    from . import dump, report
    from .llama import FILE_TYPES

    ap = argparse.ArgumentParser(prog="python -m quantx.gguf",
                                 description="GGUF files with quantx.")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("dump", help="header, metadata and tensor table")
    p.add_argument("file")
    p.add_argument("--max-array", type=int, default=16)
    p = sub.add_parser("report", help="per-tensor size and compression")
    p.add_argument("file")
    p = sub.add_parser("export-llama", help="export the example character LM")
    p.add_argument("output")
    p.add_argument("--type", default="f32", choices=sorted(FILE_TYPES))
    p.add_argument("--weights", help="a charlm .npz (default: the packaged one)")
    p.add_argument("--name", default="quantx charlm")
    p.add_argument("--report", action="store_true",
                   help="print one line per tensor (type, error added)")
    args = ap.parse_args(argv)
    try:
        if args.command == "dump":
            sys.stdout.write(dump(args.file, args.max_array))
        elif args.command == "report":
            sys.stdout.write(report(args.file))
        else:
            _export_llama(args)
    except (ValueError, OSError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
