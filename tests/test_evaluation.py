"""Same-harness evaluation: real lm-eval runs of tiny local checkpoints on the shipped tasks, through evaluate().

The checkpoints are built here: a tiny random Qwen3 (gentrend.models.loading, tiny=True) and a byte-level BPE
tokenizer trained on the example tasks, saved with save_pretrained. Everything runs offline on the CPU.
"""

import json
import shutil
import socket
from importlib.metadata import version

import numpy as np
import pandas as pd
import pytest
import yaml

from gentrend.analysis.comparisons import size_class_scores
from gentrend.analysis.density import density_rows
from gentrend.analysis.selection import select_scores
from gentrend.core import paths
from gentrend.core.errors import GentrendError, ModelLoadError
from gentrend.evaluation import (
    DatasetUnavailableError,
    EvalSettings,
    EvalSettingsError,
    TaskError,
    as_scores,
    compare_with_published,
    evaluate,
    evaluation_summary_table,
    gpu_speed,
    load_evaluation_results,
    resolve_tasks,
    save_evaluation_results,
    synthetic_tokenizer,
)
from gentrend.evaluation.estimate import Workload, estimate_seconds, task_workload
from gentrend.evaluation.tasks import load_task
from gentrend.models.loading import load_model
from gentrend.models.planner import Speed

TASKS = ("gentrend_example_mc", "gentrend_example_exact")
CPU = dict(device="cpu", batch_size=8, bootstrap_iters=0)


def task_yaml(name: str) -> dict:
    return yaml.safe_load((paths.data_file("tasks") / f"{name}.yaml").read_text())


def documents(name: str) -> int:
    return len((paths.data_file("tasks") / f"{name}.jsonl").read_text().splitlines())


def expected_metrics(name: str) -> set[tuple[str, str]]:
    """(metric, filter) pairs the task's YAML asks lm-eval for."""
    cfg = task_yaml(name)
    filters = [f["name"] for f in cfg.get("filter_list", [])] or ["none"]
    return {(m["metric"], f) for m in cfg["metric_list"] for f in filters}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, catalogue):
    """A tiny random Qwen3 with a tokenizer (Qwen-style chat template with the enable_thinking switch)."""
    folder = tmp_path_factory.mktemp("tiny-qwen3")
    tokenizer = synthetic_tokenizer()
    net = load_model(catalogue.get("qwen3-0.6b"), "synthetic", device="cpu", dtype="float32", tiny=True).model
    for config in (net.config, net.generation_config):  # special tokens inside the tiny vocabulary
        config.eos_token_id, config.pad_token_id, config.bos_token_id = (
            tokenizer.eos_token_id,
            tokenizer.pad_token_id,
            None,
        )
    net.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def calls(monkeypatch):
    """Every lm_eval.simple_evaluate call (its keyword arguments), passed through to lm-eval."""
    from lm_eval import evaluator

    real, seen = evaluator.simple_evaluate, []

    def spy(**kwargs):
        seen.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(evaluator, "simple_evaluate", spy)
    return seen


@pytest.mark.parametrize(
    "bad",
    [
        dict(tasks=[]),
        dict(tasks=["a", "a"]),
        dict(num_fewshot=-1),
        dict(batch_size=0),
        dict(batch_size="big"),
        dict(limit=0),
        dict(limit=1.5),
        dict(thinking=True),
        dict(dtype="int3"),
        dict(device="tpu"),
        dict(device="cpu", batch_size="auto"),
    ],
)
def test_settings_are_validated(bad):
    with pytest.raises(EvalSettingsError) as err:
        EvalSettings(**bad)
    assert err.value.fix


def test_settings_resolve_per_device():
    assert EvalSettings().resolve("cpu").batch_size == 8
    assert EvalSettings().resolve("cuda:0").batch_size == "auto"
    assert EvalSettings(batch_size=4).resolve("cuda:0").batch_size == 4
    assert "tasks" not in json.loads(EvalSettings().to_json())


def test_user_tasks_resolve_relative_to_their_yaml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # lm-eval alone would look for the JSONL here
    specs = resolve_tasks(TASKS)
    assert [s.name for s in specs] == list(TASKS) and {s.kind for s in specs} == {"user"}
    for spec in specs:
        files = spec.config["dataset_kwargs"]["data_files"]
        assert all(
            paths.data_file("tasks").joinpath(v).samefile(files[k])
            for k, v in task_yaml(spec.name)["dataset_kwargs"]["data_files"].items()
        )
        assert spec.version == str(task_yaml(spec.name)["metadata"]["version"])

    # a copy in the user's folder wins over the shipped one; editing its data changes the content hash
    mine = tmp_path / "mine"
    shutil.copytree(paths.data_file("tasks"), mine)
    before = resolve_tasks(["gentrend_example_mc"], mine)[0]
    assert before.source == str(mine / "gentrend_example_mc.yaml")
    data = mine / "gentrend_example_mc.jsonl"
    data.write_text(data.read_text().replace("Mercury", "Mercury ", 1))
    assert resolve_tasks(["gentrend_example_mc"], mine)[0].content_hash != before.content_hash

    unsafe = mine / "gentrend_example_exact.yaml"
    unsafe.write_text(unsafe.read_text() + "unsafe_code: true\n")
    with pytest.raises(TaskError, match="executes code"):
        load_task(resolve_tasks(["gentrend_example_exact"], mine)[0])

    (mine / "gentrend_example_mc.jsonl").unlink()
    with pytest.raises(TaskError, match="data file not found"):
        resolve_tasks(["gentrend_example_mc"], mine)
    with pytest.raises(TaskError, match="not a folder"):
        resolve_tasks(TASKS, tmp_path / "nowhere")


@pytest.mark.slow
def test_standard_names_checked_and_missing_dataset_explained(checkpoint, tmp_path, calls):
    with pytest.raises(TaskError) as err:  # lm-eval's own index, no download
        resolve_tasks(["hellaswg"])
    assert "hellaswag" in err.value.problem
    assert resolve_tasks(["arc_easy"])[0].kind == "standard"

    settings = EvalSettings(tasks=["arc_easy"], **CPU)
    with pytest.raises(DatasetUnavailableError) as err:
        evaluate("qwen3-0.6b", "local", settings, path=checkpoint, cache_dir=tmp_path, progress=False)
    assert "allenai/ai2_arc" in err.value.problem and "\n" not in err.value.problem
    assert "HF_DATASETS_CACHE" in err.value.fix
    assert not calls


def test_missing_weights_and_tokenizer_are_named(tmp_path, calls):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError) as err:
        evaluate("qwen3-0.6b", "local", EvalSettings(**CPU), path=folder, cache_dir=tmp_path, progress=False)
    assert "lacks: weights" in err.value.problem and "tokenizer" in err.value.problem  # config.json is there
    with pytest.raises(ModelLoadError) as err:  # conftest keeps the hub offline; nothing of Qwen3-8B is cached
        evaluate("qwen3-8b", "hub", EvalSettings(**CPU), checkpoint="base", cache_dir=tmp_path, progress=False)
    assert "Qwen/Qwen3-8B-Base" in err.value.problem and "weights" in err.value.problem
    assert "hf download Qwen/Qwen3-8B-Base" in err.value.fix and "--eval-mode local --eval-dir" in err.value.fix
    assert not calls


@pytest.mark.slow
def test_evaluate_end_to_end_with_lm_evals_request_cache(checkpoint, tmp_path, calls):
    settings = EvalSettings(tasks=TASKS, num_fewshot=1, **CPU)
    rows = evaluate("qwen3-0.6b", "local", settings, path=checkpoint, cache_dir=tmp_path, progress=False)
    assert len(calls) == len(TASKS)
    assert calls[0]["num_fewshot"] == 1 and calls[0]["apply_chat_template"] is False
    for task in TASKS:
        own = rows[(rows["requested_task"] == task) & (rows["task"] == task)]
        assert set(zip(own["metric"], own["filter"])) == expected_metrics(task)
        assert (own["n_samples"] == documents(task)).all() and (own["n_samples_total"] == documents(task)).all()
        assert own["value"].between(0, 100).all() and (own["unit"] == "percent").all()
        correct = own["value"] / 100 * own["n_samples"]  # a share of whole documents
        assert np.allclose(correct, correct.round())
        assert (own["num_fewshot"] == 1).all() and (
            own["task_version"] == str(task_yaml(task)["metadata"]["version"])
        ).all()
    assert (
        set(rows["weights"]) == {"real"}
        and set(rows["mode"]) == {"local"}
        and set(rows["weights_source"]) == {str(checkpoint)}
    )
    assert set(rows["lm_eval"]) == {version("lm_eval")} and set(rows["origin"]) == {"measured here"}
    assert not rows["chat_template"].any() and rows["thinking"].isna().all() and set(rows["dtype"]) == {"float32"}
    for column in ("device", "device_name", "torch", "transformers", "env_fingerprint", "settings_json", "measured_at"):
        assert rows[column].notna().all(), column
    assert set(rows["host"]) == {socket.gethostname()} and set(rows["gpu_index"]) == {""}  # the node, on the CPU
    assert (rows["eval_seconds"] > 0).all() and (rows["estimated_seconds"] > 0).all()
    databases = list((tmp_path / "lm_eval" / "qwen3-0.6b").glob("*_rank0.db"))
    assert len(databases) == 1  # lm-eval's request cache, per model and weights: the one cache
    assert calls[0]["use_cache"] == str(databases[0]).removesuffix("_rank0.db")

    # the same inputs again: lm-eval answers from its request cache, the scores are the same
    again = evaluate("qwen3-0.6b", "local", settings, path=checkpoint, cache_dir=tmp_path, progress=False)
    assert calls[-1]["use_cache"] == calls[0]["use_cache"]
    pd.testing.assert_series_equal(again["value"], rows["value"])
    assert again["score_key"].tolist() == rows["score_key"].tolist()

    # a changed setting is a different score key; force bypasses the request cache
    fewer = evaluate(
        "qwen3-0.6b", "local", settings.replace(num_fewshot=0), path=checkpoint, cache_dir=tmp_path, progress=False
    )
    assert not set(fewer["score_key"]) & set(rows["score_key"])
    evaluate("qwen3-0.6b", "local", settings, path=checkpoint, cache_dir=tmp_path, force=True, progress=False)
    assert calls[-1]["use_cache"] is None

    # the run folder round trip and the summary
    path = save_evaluation_results(rows, tmp_path / "run")
    assert path.name == "eval_qwen3-0.6b-post_trained.csv"
    back = load_evaluation_results(tmp_path / "run")
    assert len(back) == len(rows) and back["generation"].iloc[0] == "3"
    assert len(evaluation_summary_table(back)) == sum(len(expected_metrics(t)) for t in TASKS)


@pytest.mark.slow
def test_gen_kwargs_and_log_samples_reach_lm_eval(checkpoint, tmp_path, calls):
    settings = EvalSettings(
        tasks=["gentrend_example_exact"], limit=3, gen_kwargs="max_gen_toks=7,temperature=0", log_samples=True, **CPU
    )
    rows = evaluate(
        "qwen3-0.6b",
        "local",
        settings,
        path=checkpoint,
        cache_dir=tmp_path,
        progress=False,
        output_dir=tmp_path / "run",
    )
    assert calls[-1]["gen_kwargs"] == {"max_gen_toks": 7, "temperature": 0} and calls[-1]["log_samples"] is True
    assert set(rows["max_gen_toks"]) == {7} and set(rows["gen_kwargs"]) == {"max_gen_toks=7,temperature=0"}
    samples = tmp_path / "run" / "results" / "samples_qwen3-0.6b-post_trained-gentrend_example_exact.jsonl"
    records = [json.loads(line) for line in samples.read_text().splitlines()]
    assert len(records) == 3 and {r["task"] for r in records} == {"gentrend_example_exact"}
    assert all("resps" in r and "doc" in r for r in records)


@pytest.mark.slow
def test_chat_template_and_thinking_reach_lm_eval(checkpoint, tmp_path, calls, monkeypatch):
    from lm_eval.models.huggingface import HFLM

    prompts = []
    real = HFLM.apply_chat_template
    monkeypatch.setattr(
        HFLM, "apply_chat_template", lambda self, *a, **k: prompts.append(real(self, *a, **k)) or prompts[-1]
    )
    exact = EvalSettings(tasks=["gentrend_example_exact"], chat_template=True, limit=4, **CPU)

    rows = evaluate("qwen3-0.6b", "local", exact, path=checkpoint, cache_dir=tmp_path, progress=False)
    lm = calls[-1]["model"]
    assert calls[-1]["apply_chat_template"] is True and lm.chat_template_args == {"enable_thinking": False}
    assert prompts and all(p.startswith("<|im_start|>user") and p.endswith("<think>\n\n</think>\n\n") for p in prompts)
    assert rows["chat_template"].all() and (rows["thinking"] == False).all()  # noqa: E712 - applied, not "n/a"
    assert (rows["n_samples"] == 4).all() and (rows["n_samples_total"] == documents("gentrend_example_exact")).all()

    prompts.clear()
    rows = evaluate(
        "qwen3-0.6b", "local", exact.replace(thinking=True), path=checkpoint, cache_dir=tmp_path, progress=False
    )
    lm = calls[-1]["model"]
    assert lm.chat_template_args == {"enable_thinking": True} and lm.think_end_token == "</think>"
    assert prompts and not any("<think>" in p for p in prompts)
    assert (rows["thinking"] == True).all()  # noqa: E712

    n = len(calls)
    with pytest.raises(EvalSettingsError, match="log-likelihood"):
        evaluate(
            "qwen3-0.6b",
            "local",
            exact.replace(tasks=TASKS, thinking=True),
            path=checkpoint,
            cache_dir=tmp_path,
            progress=False,
        )
    # a template without the switch (Qwen2.5): thinking cannot be asked for, and is recorded as not applicable
    plain = tmp_path / "plain"
    shutil.copytree(checkpoint, plain)
    (plain / "chat_template.jinja").write_text(
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    with pytest.raises(EvalSettingsError, match="no thinking switch"):
        evaluate("qwen3-0.6b", "local", exact.replace(thinking=True), path=plain, cache_dir=tmp_path, progress=False)
    assert len(calls) == n
    rows = evaluate("qwen3-0.6b", "local", exact, path=plain, cache_dir=tmp_path, progress=False)
    assert rows["thinking"].isna().all() and calls[-1]["model"].chat_template_args == {}


@pytest.fixture(scope="module")
def measured_rows(checkpoint, tmp_path_factory):
    settings = EvalSettings(tasks=["gentrend_example_mc"], limit=2, **CPU)
    return evaluate(
        "qwen3-0.6b",
        "local",
        settings,
        path=checkpoint,
        checkpoint="base",
        cache_dir=tmp_path_factory.mktemp("cache"),
        progress=False,
    )


def constructed(
    measured_rows: pd.DataFrame, catalogue, scores: dict[str, float], task: str = "gentrend_example_mc"
) -> pd.DataFrame:
    """The measured rows of one task, re-labelled as runs of several catalogue models with given scores."""
    own = measured_rows[(measured_rows["task"] == measured_rows["requested_task"]) & (measured_rows["metric"] == "acc")]
    frames = []
    for model_id, score in scores.items():
        m = catalogue.get(model_id)
        frames.append(
            own.assign(
                model_id=m.id,
                model=m.name,
                generation=m.generation,
                params_total=m.params.total,
                requested_task=task,
                task=task,
                value=score,
                score_key=f"key-{m.id}",
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.mark.slow
def test_measured_scores_feed_density_and_per_size(measured_rows, catalogue):
    reference, newer, bonus = (
        ["qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-7b"],
        ["qwen3-0.6b", "qwen3-1.7b", "qwen3-4b"],
        2.0,
    )
    line = lambda params: 10 + 10 * np.log10(params / 1e8)
    size = {m: catalogue.get(m).params.total for m in reference + newer}
    scores = {m: line(size[m]) for m in reference} | {m: line(size[m]) + bonus for m in newer}
    measured = as_scores(constructed(measured_rows, catalogue, scores), catalogue)
    assert set(measured["track"]) == {"base"} and set(measured["origin"]) == {"measured"}
    assert set(measured["source_url"]) == {"measured here"} and set(measured["benchmark"]) == {"gentrend_example_mc"}
    assert measured["setting"].str.contains("2/16 documents").all() and set(measured["flag"]) == {"SUBSET"}

    kept = select_scores(measured, "base").kept
    rows = density_rows(kept, "2.5").set_index("model_id")
    # on a reference curve that is exactly linear in log10(size), the effective size of a model is the
    # size whose line value equals its score: 10 ** (bonus / 10) times its own size
    assert np.allclose(rows.loc[newer, "effective_params"], [size[m] * 10 ** (bonus / 10) for m in newer])
    assert (rows.loc[newer, "bound"] == "=").all()
    classes = size_class_scores(kept).dropna(subset=["delta"])
    newer_classes = classes[classes["generation"] == "3"]
    expected = {
        "qwen3-0.6b": scores["qwen3-0.6b"] - scores["qwen2.5-0.5b"],
        "qwen3-1.7b": scores["qwen3-1.7b"] - scores["qwen2.5-1.5b"],
    }
    got = dict(zip(newer_classes["model"].str.lower(), newer_classes["delta"]))
    assert got == pytest.approx(expected)


@pytest.mark.slow
def test_compare_with_published(measured_rows, catalogue, scores):
    published = scores[
        (scores["model_id"] == "qwen2.5-0.5b") & (scores["benchmark"] == "MMLU") & (scores["track"] == "base")
    ]
    five_shot = published["score"].iloc[0]  # the first printed row wins ties
    rows = constructed(measured_rows, catalogue, {"qwen2.5-0.5b": 40.0}, task="mmlu")
    measured = as_scores(rows, catalogue)
    assert measured["benchmark"].tolist() == ["MMLU"] and measured["model"].tolist() == ["Qwen/Qwen2.5-0.5B"]
    table = compare_with_published(measured, scores)
    assert len(table) == 1 and table["published"].iloc[0] == five_shot
    assert table["difference"].iloc[0] == pytest.approx(40.0 - five_shot)
    assert table["n_published"].iloc[0] == len(published)
    assert "few-shot: 0 vs 5" in table["differs"].iloc[0] and "documents" in table["differs"].iloc[0]
    same = compare_with_published(
        as_scores(rows.assign(num_fewshot=5, n_samples=rows["n_samples_total"]), catalogue), scores
    )
    assert same["differs"].iloc[0] == "none"
    assert compare_with_published(measured.assign(benchmark="not published"), scores).empty


def test_estimate_formula(catalogue):
    cpu = Speed("cpu", 1e11, "test", 2e10, "test", 0.5, 0.5)
    model = catalogue.get("qwen3-4b")
    prefill_only = estimate_seconds(model, Workload("t", 0, 1000, 0), cpu, "fp32", batch=1)
    assert prefill_only["prefill_s"] == pytest.approx(2 * model.params.total * 1000 / (1e11 * 0.5))
    assert prefill_only["decode_s"] == 0
    decode = estimate_seconds(model, Workload("t", 0, 0, 64), cpu, "fp32", batch=1)["decode_s"]
    assert decode == pytest.approx(64 * max(4 * model.params.total / 1e10, 2 * model.params.total / 5e10), rel=0.05)

    h100 = gpu_speed("H100 SXM")
    work = Workload("t", 4000, 600_000, 0)
    for m in (catalogue.get("qwen3-0.6b"), model):
        assert (
            estimate_seconds(m, work, h100, "bf16", 32)["total_s"]
            < estimate_seconds(m, work, cpu, "fp32", 32)["total_s"]
        )
    with pytest.raises(GentrendError):
        gpu_speed("RTX 3060")  # in data/gpus.yaml, without a compute figure


def test_workload_counts_requests_from_the_task():
    tokenizer = synthetic_tokenizer()
    mc, exact = (load_task(spec) for spec in resolve_tasks(TASKS))
    choices = len(
        json.loads((paths.data_file("tasks") / "gentrend_example_mc.jsonl").read_text().splitlines()[0])["choices"]
    )
    work = task_workload("gentrend_example_mc", mc, tokenizer, EvalSettings(limit=5))
    assert (work.requests, work.generated_tokens) == (5 * choices, 0) and work.prompt_tokens > 5 * choices
    work = task_workload("gentrend_example_exact", exact, tokenizer, EvalSettings())
    budget = task_yaml("gentrend_example_exact")["generation_kwargs"]["max_gen_toks"]
    assert (work.requests, work.generated_tokens) == (
        documents("gentrend_example_exact"),
        documents("gentrend_example_exact") * budget,
    )
    assert task_workload(
        "gentrend_example_exact", exact, tokenizer, EvalSettings(gen_kwargs="max_gen_toks=3")
    ).generated_tokens == 3 * documents("gentrend_example_exact")
