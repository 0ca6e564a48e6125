"""The claims ledger: each public claim in data/claims.yaml gets a verdict and the evidence behind it.

A claim names a registered check (gentrend.claims) and its arguments. `load_claims` validates the whole
file before any analysis runs: each claim against the pydantic model `Claim` (required fields, text within the
limits of gentrend.core.limits), unique ids, a known check, and every argument against the check's typed
signature (models, generations, tracks, GPUs and precisions resolved against the catalogue and the
vocabulary), so a typo fails in seconds with the claim and argument named.
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from gentrend.claims import CHECKS, ClaimContext
from gentrend.core import paths
from gentrend.core.errors import DataError, GentrendError
from gentrend.core.files import read_yaml
from gentrend.core.limits import Name, Text
from gentrend.core.text import shorten
from gentrend.models.catalogue import Catalogue, load_catalogue


class Claim(BaseModel):
    """One entry of data/claims.yaml, as written there."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Name = Field(min_length=1)
    category: Name = Field(min_length=1)
    text: Text = Field(min_length=1)
    source: Text = Field(min_length=1)
    check: Name = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)


def _check_args(path: Path, claim: dict, catalogue: Catalogue) -> None:
    fn = CHECKS[claim["check"]]
    args = claim["args"]
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
            claim = Claim.model_validate(raw_claim).model_dump()
        except ValidationError as e:
            name = raw_claim.get("id") if isinstance(raw_claim, dict) else None
            fields = "; ".join(
                f"field {'.'.join(map(str, err['loc'])) or '(entry)'}: {err['msg']}" for err in e.errors()
            )
            raise DataError(
                f"{path}: claim #{i + 1}" + (f" ({shorten(name)})" if isinstance(name, str) else "") + f": {fields}",
                "give each claim id, category, text, source and check as text, and args as {name: value, ...}",
            ) from None
        if claim["id"] in seen:
            raise DataError(f"{path}: claim id {shorten(claim['id'])} appears twice", "give each claim a unique id")
        seen.add(claim["id"])
        if claim["check"] not in CHECKS:
            raise DataError(
                f"{path}: claim {claim['id']}: unknown check {shorten(claim['check'])}",
                f"use one of: {', '.join(sorted(CHECKS))}",
            )
        _check_args(path, claim, catalogue)
        claims.append(claim)
    return claims


def claims_ledger(ctx: ClaimContext, path: Path | str | None = None) -> pd.DataFrame:
    """One row per claim: id, category, claim, verdict, parts (each part's outcome), evidence, based_on, source."""
    rows = []
    for claim in load_claims(path, ctx.catalogue):
        verdict = CHECKS[claim["check"]](ctx, **claim["args"])
        rows.append(
            {
                "id": claim["id"],
                "category": claim["category"],
                "claim": claim["text"],
                "verdict": verdict.verdict,
                "parts": verdict.parts,
                "evidence": verdict.evidence,
                "based_on": verdict.based_on,
                "source": claim["source"],
            }
        )
    return pd.DataFrame(rows)
