import pytest
import torch

from gentrend.core.errors import ModelLoadError, SettingError
from gentrend.core.vocab import resolve_precision, torch_dtype
from gentrend.models.architecture import shrink, text_config
from gentrend.models.catalogue import repo_id
from gentrend.models.loading import build_synthetic, check_weights_reachable, load_model


@pytest.mark.parametrize("model_id", ["qwen2.5-0.5b", "qwen3-0.6b", "qwen3.5-0.8b"])
def test_synthetic_build_is_the_shipped_architecture(catalogue, model_id):
    """On the meta device the synthetic builder yields exactly the catalogue's parameter count."""
    model = catalogue.get(model_id)
    net = build_synthetic(model, torch.device("meta"), torch.float32)
    assert sum(p.numel() for p in net.parameters()) == model.params.total


def test_qwen35_loads_as_its_text_model(catalogue):
    loaded = load_model(catalogue.get("qwen3.5-0.8b"), tiny=True)
    assert type(loaded.model).__name__ == "Qwen3_5ForCausalLM"
    assert loaded.weights_label == "synthetic (random weights)"
    assert loaded.kernel_path["linear_attention_kernels"] in {"fast", "partial", "torch-fallback"}


@pytest.mark.parametrize("model_id", ["qwen2.5-0.5b", "qwen3-0.6b", "qwen3.5-0.8b"])
def test_tiny_synthetic_models_generate_finite_logits(catalogue, model_id):
    loaded = load_model(catalogue.get(model_id), tiny=True)
    assert loaded.device.type == "cpu" and loaded.dtype == torch.float32
    logits = loaded.model(torch.randint(0, 500, (2, 12))).logits
    assert logits.shape == (2, 12, 512) and torch.isfinite(logits).all()
    hybrid = model_id.startswith("qwen3.5")
    assert (loaded.kernel_path["linear_attention_kernels"] != "none") == hybrid


def test_shrink_keeps_the_hybrid_layer_pattern(catalogue):
    small = shrink(text_config(catalogue.get("qwen3.5-4b")))
    assert small.layer_types == ["linear_attention"] * 3 + ["full_attention"]
    assert text_config(catalogue.get("qwen3.5-4b")).num_hidden_layers == 32  # the cached config is untouched


def test_hub_and_local_modes_load_a_saved_checkpoint(catalogue, tmp_path):
    """The real from_pretrained path, on a tiny checkpoint saved here (repo id = a local folder)."""
    saved = load_model(catalogue.get("qwen3-0.6b"), tiny=True).model
    saved.save_pretrained(tmp_path / "ckpt")
    entry = catalogue.get("qwen3-0.6b")
    entry = entry.model_copy(update={"repos": entry.repos.model_copy(update={"post_trained": str(tmp_path / "ckpt")})})

    for loaded in (load_model(entry, "hub"), load_model(entry, "local", path=tmp_path / "ckpt")):
        assert loaded.mode in {"hub", "local"} and loaded.weights_label.startswith("real")
        for (name, a), (_, b) in zip(saved.state_dict().items(), loaded.model.state_dict().items()):
            assert torch.equal(a, b), name


def test_hub_without_cached_weights_says_how_to_get_them(catalogue):
    with pytest.raises(ModelLoadError, match="(?s)cannot load weights of qwen3-0.6b.*mode='synthetic'"):
        load_model(catalogue.get("qwen3-0.6b"), "hub")
    with pytest.raises(ModelLoadError, match="(?s)not in the local Hugging Face cache.*hf download Qwen/Qwen3-0.6B"):
        check_weights_reachable(catalogue.get("qwen3-0.6b"), "hub")


def test_reachable_weights_pass_the_check(catalogue, tmp_path):
    check_weights_reachable(catalogue.get("qwen3-0.6b"), "synthetic")
    load_model(catalogue.get("qwen3-0.6b"), tiny=True).model.config.save_pretrained(tmp_path)
    check_weights_reachable(catalogue.get("qwen3-0.6b"), "local", path=tmp_path)
    with pytest.raises(ModelLoadError, match="has no config.json"):
        check_weights_reachable(catalogue.get("qwen3-0.6b"), "local", path=tmp_path / "..")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "local"}, "needs the directory"),
        ({"mode": "hub", "tiny": True}, "tiny=True only applies"),
        ({"mode": "download"}, "unknown mode"),
        ({"dtype": "float7"}, "unknown precision 'float7'"),
        ({"dtype": "int4"}, "int4 weight-only runs on CUDA only"),
    ],
)
def test_bad_arguments_fail_clearly(catalogue, kwargs, message):
    with pytest.raises((ModelLoadError, SettingError), match=message):
        load_model(catalogue.get("qwen3-0.6b"), **kwargs)


def test_cuda_request_without_cuda_is_an_error(catalogue):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SettingError, match="CUDA is not available"):
        load_model(catalogue.get("qwen3-0.6b"), device="cuda", tiny=True)


def test_defaults_pick_dtype_by_device_and_repo_by_checkpoint(catalogue):
    assert torch_dtype(resolve_precision("auto", "cuda")) == torch.bfloat16
    assert torch_dtype(resolve_precision("auto", "cpu")) == torch.float32
    assert torch_dtype(resolve_precision("bfloat16", "cpu")) == torch.bfloat16
    assert repo_id(catalogue.get("qwen3-4b"), "base") == "Qwen/Qwen3-4B-Base"
    assert repo_id(catalogue.get("qwen3.5-4b")) == "Qwen/Qwen3.5-4B"
    with pytest.raises(ModelLoadError, match="qwen3.5-4b has no base checkpoint"):
        repo_id(catalogue.get("qwen3.5-4b"), "base")  # no Qwen3.5 base checkpoint is catalogued
    with pytest.raises(ModelLoadError, match="unknown checkpoint 'instruct'"):
        repo_id(catalogue.get("qwen3-4b"), "instruct")


@pytest.mark.slow
@pytest.mark.parametrize("model_id", ["qwen3-0.6b", "qwen3.5-0.8b"])
def test_int8_weights_through_torchao_on_the_cpu(catalogue, model_id):
    """Synthetic weights quantized after building: smaller weights, same greedy tokens as bf16 on this model
    within the quantization error (so: it generates), the LM head kept in bf16."""
    from gentrend.models.loading import stored_bytes

    bf16 = load_model(catalogue.get(model_id), tiny=True, dtype="bf16")
    int8 = load_model(catalogue.get(model_id), tiny=True, dtype="int8")
    assert int8.precision == "int8" and int8.dtype == torch.bfloat16
    size = lambda m: sum(stored_bytes(p) for p in m.parameters())
    assert size(int8.model) < 0.8 * size(bf16.model)
    assert type(int8.model.lm_head.weight) is torch.nn.Parameter
    out = int8.model.generate(
        torch.randint(0, 500, (1, 8)), max_new_tokens=4, min_new_tokens=4, do_sample=False, pad_token_id=0
    )
    assert out.shape == (1, 12)


@pytest.mark.slow
def test_int8_checkpoint_through_transformers_quantization_config(catalogue, tmp_path):
    load_model(catalogue.get("qwen3-0.6b"), tiny=True, dtype="bf16").model.save_pretrained(tmp_path / "ckpt")
    loaded = load_model(catalogue.get("qwen3-0.6b"), "local", path=tmp_path / "ckpt", dtype="int8")
    assert type(loaded.model.model.layers[0].mlp.gate_proj.weight).__name__ == "Int8Tensor"
    assert getattr(loaded.model, "hf_quantizer", None) is not None


def test_int4_on_the_cpu_is_skipped_with_the_reason(catalogue):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: int4 is covered by make gpu-check")
    with pytest.raises(ModelLoadError, match="int4 weight-only runs on CUDA only"):
        load_model(catalogue.get("qwen3-0.6b"), tiny=True, dtype="int4")
    pytest.skip("torchao's int4 weight-only (tinygemm) kernel needs CUDA: measured by make gpu-check, not here")


def test_planned_kernels_match_what_the_loaded_model_runs(catalogue):
    from gentrend.models.loading import kernel_paths, planned_kernels

    for model_id in ("qwen3-0.6b", "qwen3.5-0.8b"):
        model = catalogue.get(model_id)
        assert planned_kernels(model) == kernel_paths(load_model(model, tiny=True).model)
    assert planned_kernels(catalogue.get("qwen3-0.6b"))["gated_delta_rule"] == "none"
