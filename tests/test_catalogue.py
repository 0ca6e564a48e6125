import json

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from gentrend.core.errors import CatalogueError
from gentrend.models.catalogue import load_catalogue


def test_catalogue_holds_the_qwen_generations_in_release_order(catalogue):
    assert catalogue.generations[:3] == ["2.5", "3", "3.5"]
    assert [m.size_label for m in catalogue.in_generation("3.5")] == ["0.8B", "2B", "4B", "9B"]
    assert [m.id for m in catalogue.smallest_per_generation()][:3] == ["qwen2.5-0.5b", "qwen3-0.6b", "qwen3.5-0.8b"]


@pytest.mark.parametrize(
    "model_id", [f"qwen{s}" for s in ("2.5-0.5b", "2.5-7b", "3-0.6b", "3-8b", "3.5-0.8b", "3.5-9b")]
)
def test_parameter_counts_match_the_shipped_configs(catalogue, model_id):
    """The catalogue's counts equal the parameters of the architecture built from the shipped config."""
    model = catalogue.get(model_id)
    cfg = AutoConfig.for_model(**json.loads(model.config_path.read_text())).get_text_config()
    with torch.device("meta"):
        net = AutoModelForCausalLM.from_config(cfg)
    assert sum(p.numel() for p in net.parameters()) == model.params.total
    embedding = net.get_input_embeddings().weight.numel()
    head = 0 if cfg.tie_word_embeddings else net.get_output_embeddings().weight.numel()
    assert model.params.total - embedding - head == model.params.non_embedding


def test_lookup_by_repo_id_is_case_insensitive(catalogue):
    assert catalogue.get("qwen/qwen3-4b-base").id == "qwen3-4b"
    assert catalogue.get("Qwen/Qwen2.5-7B-Instruct").id == "qwen2.5-7b"


def test_unknown_model_lists_the_known_ones(catalogue):
    with pytest.raises(CatalogueError, match="unknown model 'qwen9-1b'") as err:
        catalogue.get("qwen9-1b")
    assert "qwen3.5-0.8b" in str(err.value)


def test_unknown_generation(catalogue):
    with pytest.raises(CatalogueError, match="(?s)unknown generation .4.*2.5, 3, 3.5"):
        catalogue.in_generation("4")


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda raw: raw["generations"][1]["models"][2]["params"].update(total=-5), r"model 'qwen3-4b'.*params\.total"),
        (lambda raw: raw["generations"][0]["models"][0].pop("license"), r"model 'qwen2.5-0.5b'.*field license"),
        (lambda raw: raw["generations"][2]["models"][1].update(repos={}), r"model 'qwen3.5-2b'.*repos.*at least one"),
        (lambda raw: raw["generations"][2]["models"][0].update(flops=1), r"model 'qwen3.5-0.8b'.*field flops"),
        (lambda raw: raw["generations"][1].update(release_date="soon"), r"generation Qwen 3:.*release_date"),
        (
            lambda raw: raw["generations"][0]["models"][3].update(config="configs/missing.json"),
            r"qwen2.5-7b.*config.*not found",
        ),
        (lambda raw: raw["generations"][1]["models"][0].update(id="qwen2.5-0.5b"), r"'qwen2.5-0.5b' appears twice"),
        (
            lambda raw: raw["generations"][1].update(release_date="2024-19-09"),
            r"generation Qwen 3:.*release_date.*month",
        ),
        (
            lambda raw: raw["generations"][2].update(generation="3"),
            r"generation Qwen 3: generation label '3' is used twice",
        ),
        (
            lambda raw: raw["generations"][2].update(family="Llama", generation="3"),
            r"label '3' is used twice.*first by generation Qwen 3",
        ),
        (
            lambda raw: raw["generations"][0]["models"][1].update(size_label="0.5B"),
            r"Qwen 2.5: size_label '0.5B' appears twice",
        ),
        (lambda raw: raw.update(generations=[]), r"has no 'generations' list"),
    ],
)
def test_malformed_entries_name_the_entry_and_field(catalogue_yaml, edit, expected):
    with pytest.raises(CatalogueError, match=expected):
        load_catalogue(catalogue_yaml(edit))


def test_an_impossible_unquoted_date_is_named(catalogue_yaml):
    path = catalogue_yaml()
    path.write_text(path.read_text().replace("release_date: 2025-04-29", "release_date: 2025-19-29"))
    with pytest.raises(
        CatalogueError, match=r"models.yaml \(model catalogue\) holds an invalid value: month must be in 1\.\.12"
    ):
        load_catalogue(path)


def test_invalid_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "models.yaml"
    bad.write_text("generations: [\n")
    with pytest.raises(CatalogueError, match="not valid YAML"):
        load_catalogue(bad)
    with pytest.raises(CatalogueError, match="model catalogue not found"):
        load_catalogue(tmp_path / "nope.yaml")


def test_a_new_generation_is_one_entry(catalogue_yaml):
    def add(raw):
        new = json.loads(json.dumps(raw["generations"][2], default=str))
        new.update(generation="4", release_date="2027-01-15")
        for model in new["models"]:
            model["id"] = model["id"].replace("qwen3.5", "qwen4")
            model["repos"] = {"post_trained": model["repos"]["post_trained"].replace("3.5", "4")}
        raw["generations"].append(new)

    before = load_catalogue(catalogue_yaml())
    catalogue = load_catalogue(catalogue_yaml(add))
    assert catalogue.generations == before.generations + ["4"]
    assert catalogue.get("Qwen/Qwen4-9B").name == "Qwen4-9B"
    assert len(catalogue.to_frame()) == len(before) + len(before.in_generation("3.5"))


def test_a_config_that_is_not_json_is_named(catalogue_yaml, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{ not json")
    edit = lambda raw: raw["generations"][0]["models"][0].update(config=str(broken))
    with pytest.raises(CatalogueError, match=r"qwen2.5-0.5b.*broken.json is not valid JSON"):
        load_catalogue(catalogue_yaml(edit))
