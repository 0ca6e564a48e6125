"""data/evaluation.yaml, validated on load: the task -> benchmark map, GPU compute peaks, estimate constants."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gentrend.core import paths
from gentrend.core.errors import DataError, GentrendError
from gentrend.core.files import read_yaml
from gentrend.core.limits import Name, Text
from gentrend.models.roofline import gpu


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Benchmark(_Strict):
    benchmark: Name
    metric: Name
    filter: Name = "none"
    cot: bool


class GpuCompute(_Strict):
    bf16_tflops: float = Field(gt=0)
    source: Text


class EstimateConstants(_Strict):
    gpu_compute_share: float = Field(gt=0, le=1)
    gpu_bandwidth_share: float = Field(gt=0, le=1)
    gpu_step_floor_s: float = Field(ge=0)
    cpu_compute_share: float = Field(gt=0, le=1)
    cpu_bandwidth_share: float = Field(gt=0, le=1)
    task_overhead_s: float = Field(ge=0)
    request_overhead_s: float = Field(ge=0)
    calibration: Text


class EvaluationData(_Strict):
    benchmarks: dict[Name, Benchmark]
    gpus: dict[Name, GpuCompute]
    estimate: EstimateConstants


@lru_cache(maxsize=4)
def load_evaluation_data(path: Path | str | None = None) -> EvaluationData:
    """Read and check the file; GPU names must be entries of data/gpus.yaml (bandwidth comes from there)."""

    path = Path(path or paths.data_file("evaluation.yaml"))
    try:
        data = EvaluationData.model_validate(read_yaml(path, "evaluation data"))
    except ValidationError as e:
        fields = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'file'}: {err['msg']}" for err in e.errors()[:3])
        raise DataError(f"{path} is malformed: {fields}", "fix the entry named (see the file's comments)") from None
    for name in data.gpus:
        try:
            gpu(name)
        except GentrendError:
            raise DataError(
                f"{path}: GPU {name!r} is not in data/gpus.yaml",
                "use a GPU name from data/gpus.yaml, or add the GPU there",
            ) from None
    return data
