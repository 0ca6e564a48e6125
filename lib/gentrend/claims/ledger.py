"""The claims ledger: each public claim in data/claims.yaml gets a verdict and the evidence behind it.

A claim names a registered check (gentrend.claims) and its arguments, or, when it admits more than one
reading, a list of `readings` (each: label, reads = how it reads the claim, args, and on exactly one of them
`decides` = why that reading gives the verdict). Every reading is tested and shown (`ledger_tables`: the
readings table); the ledger's verdict is the deciding reading's. `load_claims` validates the whole file
before any analysis runs: each claim against the pydantic model `Claim` (required fields, text within the
limits of gentrend.core.limits, args or readings), unique ids, a known check, and every argument (of every
reading) against the check's typed signature (models, generations, tracks, GPUs and precisions resolved
against the catalogue and the vocabulary), so a typo fails in seconds with the claim and argument named.
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from gentrend.claims import CHECKS, ClaimContext, Verdict
from gentrend.core import paths
from gentrend.core.errors import DataError, GentrendError
from gentrend.core.files import read_yaml
from gentrend.core.limits import Name, Text
from gentrend.core.text import shorten
from gentrend.models.catalogue import Catalogue, load_catalogue


class Reading(BaseModel):
    """One way to read a claim: how it reads it, the check's arguments, and on one reading why it decides."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    label: Name = Field(min_length=1)
    reads: Text = Field(min_length=1)
    args: dict[str, Any]
    decides: Text | None = None


class Claim(BaseModel):
    """One entry of data/claims.yaml, as written there."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Name = Field(min_length=1)
    category: Name = Field(min_length=1)
    text: Text = Field(min_length=1)
    source: Text = Field(min_length=1)
    check: Name = Field(min_length=1)
    args: dict[str, Any] | None = None
    readings: list[Reading] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _args_or_readings(self) -> Claim:
        if self.args is not None and self.readings is not None:
            raise ValueError("give either args or readings (with the args inside each reading), not both")
        if self.readings is not None and sum(bool(r.decides) for r in self.readings) != 1:
            raise ValueError("exactly one reading must say why it decides the verdict (decides: <why>)")
        return self


def readings_of(claim: dict) -> list[dict]:
    """The readings of a claim: its `readings`, or its args as its one reading (label "")."""
    return claim.get("readings") or [{"label": "", "reads": "", "args": claim.get("args") or {}, "decides": True}]


def _check_args(path: Path, claim: dict, catalogue: Catalogue, args: dict) -> None:
    fn = CHECKS[claim["check"]]
    signature = inspect.signature(fn)
    try:
        signature.bind(None, **args)
    except TypeError as e:
        raise DataError(
            f"{path}: claim {claim['id']}: bad args for check {claim['check']!r}: {e}",
            f"give the arguments of {claim['check']}{signature}",
        ) from None
    hints = typing.get_type_hints(fn, include_extras=True)
    for name, value in args.items():
        try:
            TypeAdapter(hints[name]).validate_python(value, context={"catalogue": catalogue})
        except ValidationError as e:
            first = e.errors()[0]
            raise DataError(
                f"{path}: claim {claim['id']}: argument {name}={shorten(value)}: {first['msg']}",
                f"correct argument {name} of check {claim['check']!r}",
            ) from None
        except GentrendError as e:  # an unknown model / generation / GPU, raised by a validator
            raise DataError(f"{path}: claim {claim['id']}: argument {name}: {e.problem}", e.fix) from None


def load_claims(path: Path | str | None = None, catalogue: Catalogue | None = None) -> list[dict]:
    """Read and validate data/claims.yaml (see the module docstring). Errors name the file, claim and field."""
    path = Path(path or paths.data_file("claims.yaml"))
    raw = read_yaml(path, "claims file")
    if not isinstance(raw, dict) or not isinstance(raw.get("claims"), list) or not raw["claims"]:
        raise DataError(f"{path} has no 'claims' list", "start the file with 'claims:' followed by a list of claims")
    catalogue = catalogue or load_catalogue()
    claims, seen = [], set()
    for i, raw_claim in enumerate(raw["claims"]):
        try:
            claim = Claim.model_validate(raw_claim).model_dump(exclude_none=True)
        except ValidationError as e:
            name = raw_claim.get("id") if isinstance(raw_claim, dict) else None
            fields = "; ".join(
                f"field {'.'.join(map(str, err['loc'])) or '(entry)'}: {err['msg']}" for err in e.errors()
            )
            raise DataError(
                f"{path}: claim #{i + 1}" + (f" ({shorten(name)})" if isinstance(name, str) else "") + f": {fields}",
                "give each claim id, category, text, source and check as text, and args as {name: value, ...} "
                "or readings as [{label, reads, args, decides on one}]",
            ) from None
        if claim["id"] in seen:
            raise DataError(f"{path}: claim id {shorten(claim['id'])} appears twice", "give each claim a unique id")
        seen.add(claim["id"])
        if claim["check"] not in CHECKS:
            raise DataError(
                f"{path}: claim {claim['id']}: unknown check {shorten(claim['check'])}",
                f"use one of: {', '.join(sorted(CHECKS))}",
            )
        for reading in readings_of(claim):
            _check_args(path, claim, catalogue, reading["args"])
        claims.append(claim)
    return claims


def _judge(ctx: ClaimContext, claim: dict) -> list[tuple[dict, Verdict]]:
    return [(r, CHECKS[claim["check"]](ctx, **r["args"])) for r in readings_of(claim)]


def ledger_tables(ctx: ClaimContext, path: Path | str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ledger, readings). Ledger: one row per claim: id, category, claim, verdict, reason (one line), reading
    (which reading decides and why, with every reading's verdict; empty for a claim with one reading), parts,
    evidence, based_on, source. Readings: one row per reading of each claim with several: id, reading, reads,
    verdict, decides (why, or empty), reason, parts, evidence, based_on."""
    rows, readings = [], []
    for claim in load_claims(path, ctx.catalogue):
        judged = _judge(ctx, claim)
        chosen, verdict = next((r, v) for r, v in judged if r.get("decides"))
        several = len(judged) > 1
        reading = ""
        if several:
            others = "; ".join(f"reading {r['label']}: {v.verdict}" for r, v in judged if r is not chosen)
            reading = f"reading {chosen['label']} decides ({chosen['decides']}); {others}"
            for r, v in judged:
                readings.append(
                    {
                        "id": claim["id"],
                        "reading": r["label"],
                        "reads": r["reads"],
                        "verdict": v.verdict,
                        "decides": r.get("decides", ""),
                        "reason": v.reason,
                        "parts": v.parts,
                        "evidence": v.evidence,
                        "based_on": v.based_on,
                    }
                )
        rows.append(
            {
                "id": claim["id"],
                "category": claim["category"],
                "claim": claim["text"],
                "verdict": verdict.verdict,
                "reason": (f"reading {chosen['label']}: " if several else "") + verdict.reason,
                "reading": reading,
                "parts": verdict.parts,
                "evidence": verdict.evidence,
                "based_on": verdict.based_on,
                "source": claim["source"],
            }
        )
    return pd.DataFrame(rows), pd.DataFrame(readings, columns=READING_COLUMNS)


READING_COLUMNS = ["id", "reading", "reads", "verdict", "decides", "reason", "parts", "evidence", "based_on"]


def claims_ledger(ctx: ClaimContext, path: Path | str | None = None) -> pd.DataFrame:
    """The ledger of `ledger_tables`: one row per claim."""
    return ledger_tables(ctx, path)[0]
