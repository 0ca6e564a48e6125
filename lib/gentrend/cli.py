"""Command line: `gentrend report` runs the suite; `gentrend models` lists the catalogue; `gentrend check`
validates the data files. Errors a user can meet are printed as one message with the fix, exit code 2."""

from __future__ import annotations

import argparse
import sys
import time

from .errors import GentrendError


def _report(args) -> None:
    from .runner import run_report

    profile = {k: v for k, v in {"device": args.device, "dtype": args.dtype, "mode": args.mode}.items() if v}
    if args.tiny:
        profile["tiny"] = True
    if args.force:
        profile["force"] = True
    start = time.perf_counter()
    run_dir = run_report(
        args.run_id,
        profile_models=[] if args.no_profile else args.models,
        profile=profile,
        pdf=not args.no_pdf,
    )
    print(f"report written in {time.perf_counter() - start:.0f} s:")
    for name in ("trend_report.html", "trend_report.pdf"):
        if (run_dir / name).exists():
            print(f"  {run_dir / name}")
    print(f"  tables: {run_dir / 'tables'}   executed notebooks: {run_dir / 'notebooks'}")


def _models(args) -> None:
    from .catalogue import load_catalogue

    frame = load_catalogue().to_frame()
    print(frame[["model_id", "generation", "size_label", "params_total", "release_date", "license"]].to_string(index=False))


def _check(args) -> None:
    from .catalogue import load_catalogue
    from .claims import load_claims
    from .scores import load_scores

    catalogue = load_catalogue()
    scores = load_scores(catalogue=catalogue)
    claims = load_claims()
    print(f"ok: {len(catalogue)} models, {len(scores)} published scores, {len(claims)} claims")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gentrend", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    report = sub.add_parser("report", help="execute the notebooks and render reports/<run-id>/trend_report.{html,pdf}")
    report.add_argument("--run-id", help="name of the run folder (default: a timestamp)")
    report.add_argument("--models", nargs="+", metavar="ID", help="models to profile (default: smallest of each generation)")
    report.add_argument("--no-profile", action="store_true", help="published-data analyses only")
    report.add_argument("--mode", choices=["synthetic", "hub"], help="weights for profiling (default: synthetic)")
    report.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: auto)")
    report.add_argument("--dtype", help="auto, bfloat16, float16, float32 (default: auto)")
    report.add_argument("--tiny", action="store_true", help="profile shrunken architectures (smoke test, seconds)")
    report.add_argument("--force", action="store_true", help="re-measure even where cached results exist")
    report.add_argument("--no-pdf", action="store_true", help="skip the PDF")
    report.set_defaults(func=_report)

    sub.add_parser("models", help="list the model catalogue").set_defaults(func=_models)
    sub.add_parser("check", help="validate data/ (catalogue, scores, claims)").set_defaults(func=_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except GentrendError as e:
        print(f"gentrend: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gentrend: interrupted; finished notebooks are kept in the run folder", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
