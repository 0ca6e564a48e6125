"""Evaluation in lm-eval's vocabulary: its option names reach the evaluation, options that would be ignored are
refused, an offline hub fails at once with the right fix, and the run says why density and per-size were not
run over the measured scores."""

import pytest

from gentrend.cli import build_parser, main
from gentrend.core.errors import ModelLoadError, SettingError
from gentrend.evaluation import EvalSettings, EvalSettingsError
from gentrend.evaluation.model import check_hub_weights
from gentrend.pipeline.plan import EVALUATE_NB, evaluation_jobs, measured_note, plan_notes
from gentrend.pipeline.request import EvalRequest, ReportRequest


def _request(argv: list[str]) -> EvalRequest | None:
    from gentrend.cli import _evaluation

    args = build_parser().parse_args(["report", *argv])
    return _evaluation(args, args.evaluation_group)


def test_lm_evals_option_names_are_gentrends():
    ours = _request(
        ["--evaluate", "mmlu", "gsm8k", "--num-fewshot", "5", "--batch-size", "4", "--gen-kwargs", "max_gen_toks=9"]
        + ["--log-samples", "--limit", "10"]
    )
    theirs = _request(
        ["--tasks", "mmlu,gsm8k", "--num_fewshot", "5", "--batch_size", "4", "--gen_kwargs", "max_gen_toks=9"]
        + ["--log_samples", "--limit", "10"]
    )
    assert ours == theirs
    assert (ours.tasks, ours.num_fewshot, ours.batch_size, ours.gen_kwargs, ours.log_samples, ours.limit) == (
        ("mmlu", "gsm8k"),
        5,
        4,
        "max_gen_toks=9",
        True,
        10,
    )
    assert _request(["--tasks", "mmlu", "--batch_size", "auto"]).batch_size == "auto"
    assert _request([]) is None


@pytest.mark.parametrize(
    "argv, named",
    [
        (["--limit", "5"], "--limit"),
        (["--num_fewshot", "3", "--log_samples"], "--num-fewshot, --log-samples"),
        (["--eval-dir", "x"], "--eval-dir"),
        (["--gen_kwargs", "temperature=0"], "--gen-kwargs"),
    ],
)
def test_evaluation_options_without_tasks_are_refused(argv, named, capsys):
    assert main(["report", "--no-profile", *argv]) == 2
    err = capsys.readouterr().err
    assert f"error: {named} only apply to an evaluation" in err and "--tasks" in err


def test_eval_dir_without_local_mode_is_refused():
    with pytest.raises(SettingError, match="only read with --eval-mode local"):
        _request(["--tasks", "mmlu", "--eval-dir", "ckpts"])


@pytest.mark.parametrize("text", ["max_gen_toks", "=3", "max_gen_toks=0", "max_gen_toks=lots"])
def test_gen_kwargs_are_read_as_lm_eval_reads_them(text):
    with pytest.raises(EvalSettingsError):
        EvalSettings(gen_kwargs=text)


def test_gen_kwargs_budget_and_what_decides_the_score():
    settings = EvalSettings(gen_kwargs="max_gen_toks=2048,temperature=0,do_sample=false", log_samples=True)
    assert settings.generation_arguments() == {"max_gen_toks": 2048, "temperature": 0, "do_sample": False}
    assert settings.max_gen_toks == 2048 and EvalSettings().max_gen_toks is None
    assert "log_samples" not in settings.for_task() and "gen_kwargs" in settings.for_task()


def test_offline_hub_fails_at_once_with_hf_download_and_local_mode(monkeypatch):
    from huggingface_hub import constants

    with pytest.raises(ModelLoadError) as err:  # conftest sets HF_HUB_OFFLINE=1
        check_hub_weights("Qwen/Qwen3-8B-Base")
    assert "HF_HUB_OFFLINE=1" in err.value.problem
    assert "`hf download Qwen/Qwen3-8B-Base`" in err.value.fix and "--eval-mode local --eval-dir" in err.value.fix
    assert "huggingface-cli" not in err.value.fix

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # "online", but nothing answers at the endpoint
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(ModelLoadError, match="no connection to http://127.0.0.1:9"):
        check_hub_weights("Qwen/Qwen3-8B-Base")


def test_offline_report_with_a_hub_model_stops_before_any_work(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GENTREND_REPORTS", str(tmp_path))
    code = main(["report", "--no-profile", "--no-pdf", "--tasks", "gentrend_example_mc", "--eval-models", "qwen3-8b"])
    captured = capsys.readouterr()
    assert code == 2 and not list(tmp_path.iterdir())  # no run folder: nothing ran
    lines = captured.err.splitlines()  # the message and its fix, nothing else (no retry noise)
    assert len(lines) == 2 and "Qwen/Qwen3-8B" in lines[0] and "hf download Qwen/Qwen3-8B" in lines[1]


@pytest.mark.parametrize(
    "models, runs",
    [
        (("qwen2.5-0.5b", "qwen3-0.6b"), False),  # one size per generation: no curve to read against
        (("qwen2.5-0.5b", "qwen2.5-1.5b"), False),  # one generation: nothing to place on the curve
        (("qwen2.5-0.5b", "qwen3-0.6b", "qwen3-1.7b"), False),  # the oldest (the reference) has one size
        (("qwen2.5-0.5b", "qwen2.5-1.5b", "qwen3-0.6b"), True),
    ],
)
def test_measured_density_runs_when_the_method_can_work_and_says_why_not(catalogue, models, runs, tmp_path):
    for m in models:
        (tmp_path / m).mkdir()
        for name in ("config.json", "model.safetensors", "tokenizer.json"):
            (tmp_path / m / name).write_text("{}")
    request = ReportRequest(
        profile_models=(),
        device="cpu",
        evaluation=EvalRequest(
            tasks=("gentrend_example_mc",), models=models, mode="local", local_dir=str(tmp_path), checkpoint="base"
        ),
    )
    jobs = evaluation_jobs(catalogue, request)
    measured = [j for j in jobs if j.parameters.get("scores_source") == "measured"]
    notes = plan_notes(jobs)
    assert bool(measured) == runs and bool(notes) != runs
    assert [j.parameters["model"] for j in jobs if j.notebook == EVALUATE_NB] == list(models)
    if not runs:
        assert notes == [measured_note([catalogue.get(m) for m in models], "base", catalogue)]
        assert "two or more sizes" in notes[0] and "--eval-models" in notes[0]


def test_the_report_says_why_measured_density_did_not_run(tmp_path, catalogue):
    from gentrend.report.layout import RunArtefacts, measured_section
    from gentrend.report.publish import Publisher

    note = measured_note([catalogue.get("qwen2.5-0.5b"), catalogue.get("qwen3-0.6b")], "base", catalogue)
    for model in ("qwen2.5-0.5b", "qwen3-0.6b"):
        Publisher(tmp_path, "evaluate", f"{model} base").text("measured_note", note)
    shown = measured_section(RunArtefacts(tmp_path))
    assert [s.data for s in shown].count(note) == 1  # once, not once per evaluated model
