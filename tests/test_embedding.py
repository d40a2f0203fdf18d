"""Text encoder: packaged offline default, normalised batches, cache, clear errors, training files."""

import numpy as np
import pytest
import torch

from stickgen_core.embedding import EmbeddingModelError, TextEncoder, embed_dataset
from stickgen_core.io import load_dataset, save_dataset
from stickgen_core.synth import SynthConfig, generate_dataset


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return TextEncoder(cache_dir=tmp_path_factory.mktemp("emb-cache"), batch_size=16)


def test_default_model_is_offline_minilm_384(encoder):
    assert encoder.dim == 384
    v = encoder.encode(["A person waves.", "A person walks to the left.", ""])
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    similar = float(v[0] @ encoder.encode(["Someone waves hello."])[0])
    different = float(v[0] @ encoder.encode(["The stock market fell sharply today."])[0])
    assert similar > different + 0.2


def test_cache_makes_re_embedding_a_lookup(encoder, monkeypatch):
    texts = [f"A dancer spins {i} times." for i in range(40)]
    first = encoder.encode(texts)
    monkeypatch.setattr(encoder._st, "encode", lambda *a, **k: (_ for _ in ()).throw(AssertionError("model called")))
    again = encoder.encode(list(reversed(texts)))
    np.testing.assert_array_equal(again, first[::-1])


def test_missing_model_says_how_to_get_it():
    with pytest.raises(EmbeddingModelError) as err:
        TextEncoder("BAAI/bge-large-en-v1.5", cache_dir=None)
    msg = str(err.value)
    assert "BAAI/bge-large-en-v1.5" in msg and "huggingface-cli download" in msg and "all-MiniLM-L6-v2" in msg


def test_embed_dataset_records_model_and_dim(encoder, tmp_path):
    src = tmp_path / "sft.pt"
    samples = generate_dataset(12, seed=1, config=SynthConfig(max_seconds=3))
    save_dataset(samples, src)
    info = embed_dataset(src, tmp_path / "sft_embedded.pt", encoder)
    assert info["dim"] == 384 and info["samples"] == 12
    raw = torch.load(tmp_path / "sft_embedded.pt", weights_only=True)
    assert raw["embedding_model"] == "all-MiniLM-L6-v2" and raw["embedding_dim"] == 384
    ds = load_dataset(tmp_path / "sft_embedded.pt")
    assert ds[0]["embedding"].shape == (384,) and "embedding" not in samples[0]
    same_text = [i for i in range(12) if ds[i]["description"] == ds[0]["description"]]
    assert all(torch.equal(ds[i]["embedding"], ds[0]["embedding"]) for i in same_text)
