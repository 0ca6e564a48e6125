"""The model catalogue (data/models.yaml): every model described once, validated on load.

A malformed entry fails with a CatalogueError that names the entry and the field; an unknown model id fails
with the list of known ones. Names that become part of a file name (model ids, generation labels) follow the
one safe-name rule, and every text field the limits of gentrend.core.limits.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cached_property
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gentrend.core import paths
from gentrend.core.errors import CatalogueError, DataError, ModelLoadError
from gentrend.core.files import read_data, read_yaml
from gentrend.core.limits import Name, SafeName, Text
from gentrend.core.text import shorten
from gentrend.core.vocab import model_label

# the columns, with their types, that say which model and weights a measured row is of: profiling and evaluation
# rows both open with them (weights "synthetic" | "real"; mode "hub" | "local" | "synthetic")
ROW_IDENTITY = {
    "model_id": str,
    "model": str,
    "generation": str,
    "params_total": int,
    "weights": str,
    "weights_source": str,
    "mode": str,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Params(_Strict):
    """Parameter counts. `total` is the text model (what text benchmarks measure); vision and MTP apart."""

    total: int = Field(gt=0)
    non_embedding: int = Field(gt=0)
    vision: int | None = Field(default=None, gt=0)
    mtp: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _non_embedding_below_total(self):
        if self.non_embedding > self.total:
            raise ValueError(f"non_embedding ({self.non_embedding}) exceeds total ({self.total})")
        return self


class Repos(_Strict):
    """Hugging Face repo ids of the pre-trained (base) and post-trained checkpoints."""

    base: Name | None = None
    post_trained: Name | None = None

    @model_validator(mode="after")
    def _at_least_one(self):
        if not (self.base or self.post_trained):
            raise ValueError("give at least one of base, post_trained")
        return self


class ModelEntry(_Strict):
    id: SafeName = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    size_label: Name
    license: Name
    repos: Repos
    params: Params
    config: Name
    context_length: int = Field(gt=0)


class Generation(_Strict):
    family: Name
    generation: SafeName
    release_date: dt.date
    architecture: Name
    source: Text
    models: list[ModelEntry] = Field(min_length=1)


class Model(_Strict):
    """One model with its generation's facts folded in: what the rest of the suite works with."""

    id: str
    family: str
    generation: str
    release_date: dt.date
    size_label: str
    license: str
    repos: Repos
    params: Params
    config_path: Path
    context_length: int

    @property
    def name(self) -> str:
        return model_label(self.family, self.generation, self.size_label)


Checkpoint = Literal["base", "post_trained"]


def repo_id(model: Model, checkpoint: Checkpoint = "post_trained") -> str:
    """The HF repo of the wanted checkpoint of `model`; an error if the catalogue has none."""
    if checkpoint not in ("base", "post_trained"):
        raise ModelLoadError(f"unknown checkpoint {checkpoint!r}", "use 'base' or 'post_trained'")
    repo = getattr(model.repos, checkpoint)
    if repo is None:
        other = "post_trained" if checkpoint == "base" else "base"
        raise ModelLoadError(
            f"{model.id} has no {checkpoint} checkpoint in the catalogue",
            f"use checkpoint='{other}', or add repos.{checkpoint} to its entry in data/models.yaml",
        )
    return repo


class Catalogue:
    """All models, in catalogue order, looked up by id or by any of their repo ids."""

    def __init__(self, models: list[Model], source: Path):
        self.models, self.source = models, source
        seen: dict[str, str] = {}
        for m in models:
            if m.id in seen:
                raise CatalogueError(f"{source}: model id {m.id!r} appears twice", "give each model a unique id")
            seen[m.id] = m.id

    def __iter__(self):
        return iter(self.models)

    def __len__(self):
        return len(self.models)

    @cached_property
    def _by_key(self) -> dict[str, Model]:
        keys = {}
        for m in self.models:
            keys[m.id] = m
            for repo in (m.repos.base, m.repos.post_trained):
                if repo:
                    keys[repo.lower()] = m
        return keys

    def get(self, key: str) -> Model:
        """A model by catalogue id (e.g. 'qwen3-4b') or HF repo id (e.g. 'Qwen/Qwen3-4B-Base')."""
        try:
            return self._by_key[key.lower()]
        except KeyError:
            known = ", ".join(m.id for m in self.models)
            raise CatalogueError(f"unknown model {shorten(key)}", f"use one of: {known}") from None

    @property
    def generations(self) -> list[str]:
        return list(dict.fromkeys(m.generation for m in self.models))

    def in_generation(self, generation: str) -> list[Model]:
        found = [m for m in self.models if m.generation == str(generation)]
        if not found:
            raise CatalogueError(
                f"unknown generation {shorten(generation)}", f"use one of: {', '.join(self.generations)}"
            )
        return found

    def smallest_per_generation(self) -> list[Model]:
        return [min(self.in_generation(g), key=lambda m: m.params.total) for g in self.generations]

    def to_frame(self) -> pd.DataFrame:
        """One row per model: the tidy view notebooks join scores and measurements against."""
        rows = []
        for m in self.models:
            rows.append(
                {
                    "model_id": m.id,
                    "model": m.name,
                    "family": m.family,
                    "generation": m.generation,
                    "release_date": pd.Timestamp(m.release_date),
                    "size_label": m.size_label,
                    "license": m.license,
                    "params_total": m.params.total,
                    "params_non_embedding": m.params.non_embedding,
                    "params_vision": m.params.vision,
                    "params_mtp": m.params.mtp,
                    "context_length": m.context_length,
                    "repo_base": m.repos.base,
                    "repo_post_trained": m.repos.post_trained,
                }
            )
        return pd.DataFrame(rows)


def _field_errors(err: ValidationError) -> str:
    return "; ".join(f"field {'.'.join(map(str, e['loc'])) or '(entry)'}: {e['msg']}" for e in err.errors())


def _check_config(config_path: Path, where: str) -> None:
    """The model's config must exist and be a JSON object (the architecture is read from it)."""
    if not config_path.is_file():
        raise CatalogueError(
            f"{where}: file not found: {config_path}",
            "put the model's config.json under data/configs/ and point 'config' at it",
        )
    try:
        config = json.loads(read_data(config_path, "model config"))
    except DataError as e:
        raise CatalogueError(f"{where}: {e.problem}", e.fix) from None
    except json.JSONDecodeError as e:
        raise CatalogueError(
            f"{where}: {config_path} is not valid JSON: {shorten(str(e), 200)}", "restore the official config.json"
        ) from None
    if not isinstance(config, dict) or "model_type" not in config:
        raise CatalogueError(f"{where}: {config_path} has no model_type", "restore the official config.json")


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    """Read and validate the catalogue. Errors name the generation, the model and the field."""
    path = Path(path or paths.data_file("models.yaml"))
    try:
        raw = read_yaml(path, "model catalogue")
    except DataError as e:
        raise CatalogueError(e.problem, e.fix) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("generations"), list) or not raw["generations"]:
        raise CatalogueError(
            f"{path} has no 'generations' list", "start the file with 'generations:' (see data/models.yaml)"
        )

    models, labels = [], {}
    for i, gen_raw in enumerate(raw["generations"]):
        label = f"generation #{i + 1}"
        if isinstance(gen_raw, dict):
            family, generation = (shorten(gen_raw.get(k, "?"), quote=False) for k in ("family", "generation"))
            label = f"generation {family} {generation}"
            for j, model_raw in enumerate(gen_raw.get("models") or []):
                try:
                    ModelEntry.model_validate(model_raw)
                except ValidationError as e:
                    name = model_raw.get("id", f"#{j + 1}") if isinstance(model_raw, dict) else f"#{j + 1}"
                    raise CatalogueError(
                        f"{path}: {label}, model {shorten(name)}: {_field_errors(e)}",
                        "correct that field of the entry (see the header of data/models.yaml)",
                    ) from None
        try:
            gen = Generation.model_validate(gen_raw)
        except ValidationError as e:
            raise CatalogueError(
                f"{path}: {label}: {_field_errors(e)}", "correct that field of the generation"
            ) from None
        if gen.generation in labels:
            raise CatalogueError(
                f"{path}: {label}: generation label {gen.generation!r} is used twice (analyses, tables "
                f"and claims name a generation by its label alone; first by {labels[gen.generation]})",
                "give each generation its own label",
            )
        labels[gen.generation] = label
        sizes = [entry.size_label for entry in gen.models]
        if len(set(sizes)) < len(sizes):
            twice = next(s for s in sizes if sizes.count(s) > 1)
            raise CatalogueError(
                f"{path}: {label}: size_label {twice!r} appears twice, so two models would share one "
                "name in every table",
                "give each model of a generation its own size_label",
            )
        for entry in gen.models:
            config_path = (path.parent / entry.config).resolve()
            _check_config(config_path, f"{path}: {label}, model {entry.id!r}: field config")
            models.append(
                Model(
                    id=entry.id,
                    family=gen.family,
                    generation=gen.generation,
                    release_date=gen.release_date,
                    size_label=entry.size_label,
                    license=entry.license,
                    repos=entry.repos,
                    params=entry.params,
                    config_path=config_path,
                    context_length=entry.context_length,
                )
            )
    return Catalogue(models, path)
