"""Command line: `gentrend report` runs the suite; `gentrend models` lists the catalogue; `gentrend check`
validates the data files; `gentrend clean` removes old runs and cache entries. Errors a user can meet (bad
input, a folder that cannot be written, a full disk) are printed as one message with the fix, never a traceback.

Exit codes: 0 complete; 2 bad input or environment (the message says what and how to fix it, nothing ran);
3 another run holds the reports folder; 4 partial (the report was rendered, but a notebook failed: its
sections say "not produced", the failures are printed and logged); 5 failed (no report); 130 interrupted
(finished notebooks are kept)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time

from gentrend.analysis.scores import load_scores
from gentrend.claims.ledger import load_claims
from gentrend.core.errors import GentrendError, SettingError
from gentrend.core.files import output_error
from gentrend.models.catalogue import load_catalogue
from gentrend.models.roofline import load_gpus
from gentrend.pipeline.clean import age_text, clean, freed_size, parse_age, size_text
from gentrend.pipeline.request import EvalRequest, ReportRequest


def _evaluation(args, group: argparse._ArgumentGroup) -> EvalRequest | None:
    """The evaluation request, or None; evaluation options given without --evaluate would be ignored: refused."""
    given = [
        a.option_strings[0] for a in group._group_actions if a.dest != "evaluate" and getattr(args, a.dest) is not None
    ]
    if not args.evaluate:
        if given:
            raise SettingError(
                f"{', '.join(given)} only apply to an evaluation, and no tasks were named",
                "add --evaluate TASK ... (or lm-eval's --tasks TASK ...), or drop them",
            )
        return None
    return EvalRequest(
        tasks=tuple(t for arg in args.evaluate for t in arg.split(",") if t),  # lm-eval also takes "a,b"
        models=tuple(args.eval_models) if args.eval_models else None,
        mode=args.eval_mode or "hub",
        local_dir=args.eval_dir,
        checkpoint=args.checkpoint or "post_trained",
        chat_template=bool(args.chat_template),
        thinking=args.thinking,
        num_fewshot=args.num_fewshot,
        limit=args.limit,
        batch_size=args.batch_size,
        gen_kwargs=args.gen_kwargs,
        log_samples=bool(args.log_samples),
        task_dir=args.task_dir,
        allow_task_code=bool(args.allow_task_code),
    )


def _report(args) -> int:
    from gentrend.pipeline.runner import run_report  # here: only `report` imports torch, papermill, matplotlib

    evaluation = _evaluation(args, args.evaluation_group)
    request = ReportRequest(
        profile_models=() if args.no_profile else (tuple(args.models) if args.models else None),
        mode=args.mode,
        device=args.device,
        dtype=args.dtype,
        backend=args.backend,
        batch_sizes=args.batch_sizes,
        prompt_lengths=args.prompt_lengths,
        new_tokens=args.new_tokens,
        tiny=args.tiny,
        force=args.force,
        evaluation=evaluation,
        executor=args.executor,
        ray_address=args.ray_address or "",
    )
    start = time.perf_counter()
    result = run_report(args.run_id, request, pdf=not args.no_pdf)
    run_dir = result.run_dir
    print(
        f"run {run_dir.name} {result.status} in {time.perf_counter() - start:.0f} s "
        f"({result.executed} steps done, {result.reused} reused from an earlier run):"
    )
    for name in ("trend_report.html", "trend_report.pdf"):
        if (run_dir / name).exists():
            print(f"  {run_dir / name}")
    print(
        f"  log: {run_dir / 'run.log'}   manifest: {run_dir / 'manifest.json'}   all runs: {run_dir.parent / 'index.html'}"
    )
    for failure in result.failures:
        print(f"gentrend: failed: {failure}", file=sys.stderr)
    return result.exit_code


def _models(args) -> None:

    frame = load_catalogue().to_frame()
    print(
        frame[["model_id", "generation", "size_label", "params_total", "release_date", "license"]].to_string(
            index=False
        )
    )


def check_data() -> str:
    """Validate every data file (catalogue and configs, scores, benchmark units, claims, GPU table); one line."""

    catalogue = load_catalogue()
    scores = load_scores(catalogue=catalogue)
    gpus = load_gpus()  # before the claims, whose GPU arguments it resolves
    claims = load_claims(catalogue=catalogue)
    return (
        f"ok: {len(catalogue)} models in {len(catalogue.generations)} generations, {len(scores)} published scores, "
        f"{len(claims)} claims, {len(gpus)} GPUs"
    )


def _check(args) -> None:
    print(check_data())


def _clean(args) -> None:

    older_than = parse_age(args.older_than) if args.older_than is not None else None
    doomed, protected = clean(older_than, args.keep, dry_run=args.dry_run)
    for item in doomed:
        print(
            f"{'would remove' if args.dry_run else 'removed'} {item.kind:5} {item.path}  "
            f"({size_text(item.size)}, last written {age_text(item.age_s)} ago)"
        )
    for path, why in protected.items():
        print(f"kept        run   {path}  ({why})")
    total = size_text(freed_size(f for item in doomed for f in item.files))
    print(
        f"{len(doomed)} item(s), {total}" + (" would be freed (dry run: nothing removed)" if args.dry_run else " freed")
    )


def _positive_ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive whole numbers, got {text!r}")
    return values


def _batch_size(text: str) -> int | str:
    """lm-eval's --batch_size: a positive integer or "auto"."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number or auto, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number or auto, got {text!r}")
    return value


def _limit(text: str) -> int | float:
    """A document count (an integer) or a fraction of each task (below 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    return int(value) if value >= 1 and value.is_integer() else value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gentrend", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    report = sub.add_parser("report", help="execute the notebooks and render reports/<run-id>/trend_report.{html,pdf}")
    report.add_argument("--run-id", help="name of the run folder (default: a timestamp with a random suffix)")
    report.add_argument(
        "--models",
        nargs="+",
        metavar="ID",
        help="models to profile (default on the CPU: the smallest of each generation; on a GPU: the largest of each "
        "generation and the smallest of the newest)",
    )
    report.add_argument("--no-profile", action="store_true", help="published-data analyses only")
    report.add_argument(
        "--mode", default="synthetic", help="weights for profiling: synthetic or hub (default: synthetic)"
    )
    report.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (default: auto)")
    report.add_argument(
        "--dtype",
        default="auto",
        help="auto, fp32, bf16, fp16, int8 or int4 (weight-only with torchao; int4 on CUDA only) "
        "(default: auto = bf16 on a GPU, fp32 on the CPU)",
    )
    report.add_argument("--backend", help="profiling backend: eager or compiled (default: the device's)")
    report.add_argument("--batch-sizes", type=_positive_ints, metavar="N,N", help="batch sizes to sweep, e.g. 1,4,16")
    report.add_argument(
        "--prompt-lengths", type=_positive_ints, metavar="N,N", help="prompt lengths to sweep, e.g. 128,1024"
    )
    report.add_argument("--new-tokens", type=int, help="tokens generated per run (>= 2)")
    report.add_argument("--tiny", action="store_true", help="profile shrunken architectures (smoke test, seconds)")
    report.add_argument("--force", action="store_true", help="re-measure even where cached results exist")
    report.add_argument("--no-pdf", action="store_true", help="skip the PDF")
    report.add_argument(
        "--executor",
        default="local",
        choices=["local", "ray"],
        help="where the notebooks run: local (default: here, one after another) or ray (Ray tasks, side by side)",
    )
    report.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="the Ray cluster: auto, HOST:PORT or ray://HOST:10001 (default: a local Ray instance on this machine)",
    )
    evaluation = report.add_argument_group(
        "same-harness evaluation (lm-evaluation-harness; needs real weights)",
        "lm-eval's own option names are accepted too (--tasks, --num_fewshot, --batch_size, --gen_kwargs, "
        "--log_samples, --limit) and mean what they mean there.",
    )
    evaluation.add_argument(
        "--evaluate", "--tasks", nargs="+", metavar="TASK", help="lm-eval tasks and/or user tasks to score"
    )
    evaluation.add_argument(
        "--eval-models", nargs="+", metavar="ID", help="models to score (default: every model with the checkpoint)"
    )
    evaluation.add_argument(
        "--eval-mode", choices=["hub", "local"], help="weights: hub (default) or local (with --eval-dir)"
    )
    evaluation.add_argument(
        "--eval-dir", metavar="DIR", help="with --eval-mode local: DIR/<model id>/ holds each checkpoint"
    )
    evaluation.add_argument(
        "--checkpoint", choices=["base", "post_trained"], help="which checkpoint to score (default: post_trained)"
    )
    evaluation.add_argument(
        "--chat-template", action="store_true", default=None, help="wrap prompts in the chat template (post-trained)"
    )
    evaluation.add_argument(
        "--thinking",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Qwen3/Qwen3.5 thinking switch (with --chat-template; default: off)",
    )
    evaluation.add_argument("--num-fewshot", "--num_fewshot", type=int, help="few-shot examples (default: each task's)")
    evaluation.add_argument(
        "--batch-size",
        "--batch_size",
        type=_batch_size,
        help="an integer, or auto on a GPU (default: auto on a GPU, 8 on the CPU)",
    )
    evaluation.add_argument(
        "--gen-kwargs",
        "--gen_kwargs",
        metavar="K=V,K=V",
        help='generation arguments of generative tasks, e.g. "max_gen_toks=2048,temperature=0" (default: each task\'s)',
    )
    evaluation.add_argument(
        "--log-samples",
        "--log_samples",
        action="store_true",
        default=None,
        help="write every scored document to results/samples_<model>-<label>-<task>.jsonl",
    )
    evaluation.add_argument(
        "--limit", type=_limit, help="documents per task (an integer, or a fraction below 1) for quick runs"
    )
    evaluation.add_argument("--task-dir", metavar="DIR", help="folder of your own task YAML + JSONL files")
    evaluation.add_argument(
        "--allow-task-code",
        action="store_true",
        default=None,
        help="let user tasks run the Python code their YAML names with !function, or replace a standard task "
        "of the same name (the code runs with your permissions; off by default)",
    )
    report.set_defaults(evaluation_group=evaluation)
    report.set_defaults(func=_report)

    sub.add_parser("models", help="list the model catalogue").set_defaults(func=_models)
    sub.add_parser("check", help="validate data/ (catalogue, configs, scores, claims, GPUs)").set_defaults(func=_check)

    clean = sub.add_parser(
        "clean",
        help="remove old run folders and profiling cache entries",
        description="Remove run folders and profiling cache entries by age and/or count. Never "
        "removed: the run `latest` points to, the newest complete report, anything "
        "while a report run holds the reports folder.",
    )
    clean.add_argument("--older-than", metavar="AGE", help="what was last written more than AGE ago: 30d, 12h, 2w")
    clean.add_argument(
        "--keep", type=int, metavar="N", help="keep the N newest runs (and N newest cache entries per model)"
    )
    clean.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    clean.set_defaults(func=_clean)
    return parser


def _interrupt(signum, frame):
    """SIGINT and SIGTERM (what `timeout` and systemd send) end a command alike: once, as a KeyboardInterrupt."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # a second signal while the run winds down changes nothing
    raise KeyboardInterrupt


@contextlib.contextmanager
def _signals():
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with _signals():
        return _run(args)


def _run(args) -> int:
    try:
        code = args.func(args) or 0
    except OSError as e:  # a file system problem met outside gentrend.core.files (e.g. papermill saving a notebook)
        return _error(output_error(e))
    except GentrendError as e:
        return _error(e)
    except KeyboardInterrupt:
        kept = "; finished notebooks are kept in the run folder" if args.command == "report" else ""
        print(f"gentrend: interrupted{kept}", file=sys.stderr)
        return 130
    return code


def _error(e: GentrendError) -> int:
    print(f"gentrend: error: {e}", file=sys.stderr)
    return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
