"""Int8 weights for CPU generation: close to float32, on the CPU only, never changing a checkpoint."""

import pytest
import torch
from torch import nn

from stickgen_core.errors import ConfigError
from stickgen_core.inference import InferenceGenerator
from stickgen_core.model.int8_weights import Int8Linear, check_weight_format, quantize_linears
from tests.test_inference_eval import StubEncoder, train_tiny_checkpoint


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(1, 256), (2, 3, 256), (1, 1, 683), (5, 3), (1, 17)])
def test_an_int8_layer_gives_the_float_layer_s_output_within_its_rounding(bias, shape):
    torch.manual_seed(0)
    lin = nn.Linear(shape[-1], 300, bias=bias)
    x = torch.randn(*shape)
    want = lin(x)
    got = Int8Linear(lin)(x)
    assert got.shape == want.shape and got.dtype == torch.float32
    # weights to 127 levels per output, activations to bf16: about 1 % of the output's range
    assert (got - want).abs().max() <= 0.02 * want.abs().max()
    assert Int8Linear(lin).weight.dtype == torch.int8


def test_quantize_swaps_the_wide_linears_and_keeps_the_rest():
    model = nn.Sequential(nn.Linear(64, 96), nn.ReLU(), nn.Sequential(nn.Linear(96, 683), nn.LayerNorm(683)),
                          nn.Linear(683, 8), nn.Linear(3, 64))
    assert quantize_linears(model, names=None) == 3
    assert [type(m).__name__ for m in model if not isinstance(m, nn.Sequential)] == \
        ["Int8Linear", "ReLU", "Int8Linear", "Linear"]   # 3 inputs: too small to gain
    assert isinstance(model[2][1], nn.LayerNorm) and isinstance(model[2][0], Int8Linear)
    x = torch.randn(2, 64)
    assert model[:4](x).shape == (2, 8)
    named = nn.ModuleDict({"qkv": nn.Linear(64, 192), "modulation": nn.Linear(64, 256)})
    assert quantize_linears(named) == 1 and isinstance(named["modulation"], nn.Linear)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return train_tiny_checkpoint(tmp_path_factory.mktemp("ck8"))


def test_int8_generation_follows_the_float_one(checkpoint):
    f32 = InferenceGenerator(checkpoint, encoder=StubEncoder())
    i8 = InferenceGenerator(checkpoint, encoder=StubEncoder(), weights="int8")
    assert i8.weights == "int8" and any(isinstance(m, Int8Linear) for m in i8.model.modules())
    a = f32.generate("A person waves.", seconds=2, seed=1)
    b = i8.generate("A person waves.", seconds=2, seed=1)
    assert b["motion"].shape == a["motion"].shape and torch.isfinite(b["motion"]).all()
    spread = a["motion"].std()
    assert (b["motion"] - a["motion"]).abs().mean() <= 0.05 * spread
    assert (a["actions"] == b["actions"]).float().mean() >= 0.9


def test_weights_other_than_float32_or_int8_or_int8_off_the_cpu_are_clear_errors(checkpoint):
    with pytest.raises(ConfigError, match="weights 'int4'.*float32, int8"):
        InferenceGenerator(checkpoint, encoder=StubEncoder(), weights="int4")
    with pytest.raises(ConfigError, match="'int8' runs on the CPU only.*cuda"):
        check_weight_format("int8", "cuda:0")    # checked before any weight is touched
    assert check_weight_format("float32", "cuda:0") == "float32"


def test_inputs_of_any_layout_and_dtype_are_taken():
    torch.manual_seed(1)
    lin = nn.Linear(64, 32)
    q = Int8Linear(lin)
    cols = torch.randn(64, 5).t()            # column-major rows: the kernel wants row-major ones
    assert torch.allclose(q(cols), lin(cols), atol=0.02 * lin(cols).abs().max().item())
    half = torch.randn(3, 64, dtype=torch.bfloat16)
    assert q(half).dtype == torch.bfloat16 and q(torch.zeros(0, 64)).shape == (0, 32)


def test_only_the_transformer_blocks_get_int8_weights_not_the_refiner(tmp_path):
    from tests.test_train import DIFFUSION

    wide = {**DIFFUSION, "diffusion": {**DIFFUSION["diffusion"], "d_model": 64}}  # wide enough to be converted
    ck = train_tiny_checkpoint(tmp_path, **wide)
    gen = InferenceGenerator(ck, encoder=StubEncoder(), weights="int8")
    assert gen.model.refiner is not None
    assert any(isinstance(m, Int8Linear) for m in gen.model.blocks.modules())
    assert not any(isinstance(m, Int8Linear) for m in gen.model.refiner.modules())
    out = gen.generate("A person jumps.", seconds=2, seed=0)
    assert out["refined"] and out["weights"] == "int8" and torch.isfinite(out["motion"]).all()
