"""The claims ledger: each public claim in data/claims.yaml gets a verdict and the evidence behind it.

A claim names a registered check (gentrend.claims) and its arguments. `load_claims` validates the whole
file before any analysis runs: required fields, unique ids, a known check, and every argument against the
check's typed signature (models, generations, tracks, GPUs and precisions resolved against the catalogue
and the vocabulary), so a typo fails in seconds with the claim and argument named.
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path

import pandas as pd
from pydantic import TypeAdapter, ValidationError

from gentrend.claims import CHECKS, ClaimContext
from gentrend.core import paths
from gentrend.core.errors import DataError, GentrendError
from gentrend.core.files import read_yaml
from gentrend.models.catalogue import Catalogue, load_catalogue

REQUIRED = ("id", "category", "text", "source", "check")


def _check_args(path: Path, claim: dict, catalogue: Catalogue) -> None:
    fn = CHECKS[claim["check"]]
    args = claim.get("args") or {}
    if not isinstance(args, dict):
        raise DataError(
            f"{path}: claim {claim['id']}: args must be a mapping, got {type(args).__name__}",
            "write args as {name: value, ...}",
        )
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
                f"{path}: claim {claim['id']}: argument {name}={value!r}: {first['msg']}",
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
    seen = set()
    for i, claim in enumerate(raw["claims"]):
        if not isinstance(claim, dict):
            raise DataError(
                f"{path}: claim #{i + 1} is not a mapping", f"give each claim the fields {', '.join(REQUIRED)}"
            )
        missing = [key for key in REQUIRED if not claim.get(key)]
        if missing:
            raise DataError(
                f"{path}: claim #{i + 1} ({claim.get('id', 'no id')}) has no {', '.join(missing)}",
                f"every claim needs {', '.join(REQUIRED)}",
            )
        not_text = [key for key in REQUIRED if not isinstance(claim[key], str)]
        if not_text:
            raise DataError(
                f"{path}: claim #{i + 1}: {', '.join(not_text)} must be text, got {claim[not_text[0]]!r}",
                "write the value as one line of text (quote it if it looks like a list or a number)",
            )
        if claim["id"] in seen:
            raise DataError(f"{path}: claim id {claim['id']!r} appears twice", "give each claim a unique id")
        seen.add(claim["id"])
        if claim["check"] not in CHECKS:
            raise DataError(
                f"{path}: claim {claim['id']}: unknown check {claim['check']!r}",
                f"use one of: {', '.join(sorted(CHECKS))}",
            )
        _check_args(path, claim, catalogue)
    return raw["claims"]


def claims_ledger(ctx: ClaimContext, path: Path | str | None = None) -> pd.DataFrame:
    """One row per claim: id, category, claim, verdict, parts (each part's outcome), evidence, based_on, source."""
    rows = []
    for claim in load_claims(path, ctx.catalogue):
        verdict = CHECKS[claim["check"]](ctx, **claim.get("args", {}))
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
