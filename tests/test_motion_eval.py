"""Text-to-motion evaluation: the evaluator, its metrics, guidance, and a two-action model it tells apart."""

import hashlib
import json

import numpy as np
import pytest
import torch

from stickgen_core.config import load_config, resolve_sources
from stickgen_core.errors import ConfigError
from stickgen_core.evaluation import physical_metrics
from stickgen_core.evaluation.evaluator import embed_clips, embed_texts, train_evaluator
from stickgen_core.evaluation.motion_eval import eval_motion, ground_truth_sweep, prompt_following
from stickgen_core.evaluation.t2m import fid, multimodality, r_precision, r_precision_chance
from stickgen_core.inference import InferenceGenerator
from stickgen_core.io import atomic_torch_save
from stickgen_core.schema import action_index
from stickgen_core.synth import SynthConfig, generate_dataset
from stickgen_core.train import train
from stickgen_core.train.checkpoint import BEST

DIM = 64


class WordsEncoder:
    """Bag of hashed words (tests only): texts sharing words get similar vectors."""

    name, dim = "words", DIM

    @staticmethod
    def _word(w):
        seed = int(hashlib.sha256(w.strip(".,").lower().encode()).hexdigest()[:8], 16)
        return np.random.default_rng(seed).normal(size=DIM)

    def encode(self, texts, progress=None):
        out = []
        for t in texts:
            v = sum((self._word(w) for w in t.split()), np.zeros(DIM)) + 1e-6
            out.append((v / np.linalg.norm(v)).astype(np.float32))
        return np.stack(out)


def embedded(samples):
    enc = WordsEncoder()
    vecs = enc.encode([s["description"] for s in samples])
    for s, v in zip(samples, vecs):
        s["embedding"] = torch.from_numpy(v)
    return samples


SYNTH = SynthConfig(multi_actor_rate=0.0, max_seconds=8)


@pytest.fixture(scope="module")
def evaluator():
    torch.manual_seed(0)
    return train_evaluator(embedded(generate_dataset(500, seed=11, config=SYNTH)), epochs=16)


@pytest.fixture(scope="module")
def heldout():
    return embedded(generate_dataset(96, seed=12, config=SYNTH))


def test_r_precision_of_heldout_ground_truth_is_far_above_chance(evaluator, heldout):
    m, _ = embed_clips(evaluator, [s["motion"] for s in heldout])
    t = embed_texts(evaluator, np.stack([s["embedding"].numpy() for s in heldout]))
    r = r_precision(m, t)
    chance = r_precision_chance(len(heldout))
    assert r[2] > 4 * chance[2] and r[0] > 4 * chance[0], (r, chance)
    shuffled = r_precision(m, t[np.random.default_rng(0).permutation(len(t))])
    assert shuffled[2] < 2 * chance[2]  # the pairing is what is measured


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_noise(evaluator, heldout):
    clean = [s["motion"] for s in heldout]
    e, _ = embed_clips(evaluator, clean)
    assert fid(e, e) < 1e-6
    g = torch.Generator().manual_seed(0)
    scores = [fid(e, embed_clips(evaluator, [m + sigma * torch.randn(m.shape, generator=g) for m in clean])[0])
              for sigma in (0.01, 0.05, 0.2)]
    assert 0 < scores[0] < scores[1] < scores[2], scores


def test_prompt_following_of_ground_truth_clips_is_at_least_95_percent(evaluator):
    result = prompt_following(evaluator, *ground_truth_sweep(per_action=3))
    assert result["rate"] >= 0.95, result["confusions"]
    assert set(result["per_action"]) >= {"walk", "jump", "wave", "sit"}


def test_multimodality_and_physical_metrics():
    same = np.zeros((4, 3, 8))
    assert multimodality(same) == 0.0
    spread = same.copy()
    spread[:, 1, 0] += 1.0  # one of three draws 1 away: 4 of the 6 ordered pairs
    assert multimodality(spread) == pytest.approx(2 / 3)
    clip = generate_dataset(1, seed=3, config=SynthConfig(multi_actor_rate=0.0, actions=("walk",)))[0]["motion"].numpy()
    good = physical_metrics([clip])
    stretched = clip.copy()
    stretched[:, 1::2] -= np.linspace(0, 0.3, len(clip))[:, None]  # sinks 30 cm over the clip
    bad = physical_metrics([stretched])
    assert good["bone_length_variation"][0] < 0.02
    assert bad["ground_penetration_ratio"][0] > good["ground_penetration_ratio"][0]
    assert bad["ground_penetration_depth"][0] == pytest.approx(0.3, abs=0.02)


@pytest.fixture(scope="module")
def two_action_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("two")
    cfg_synth = SynthConfig(multi_actor_rate=0.0, actions=("jump", "sit"), min_seconds=3, max_seconds=3)
    samples = embedded([s for s in generate_dataset(48, seed=5, config=cfg_synth)
                        if len(set(s["actions"].tolist())) == 1])
    atomic_torch_save({"sequences": samples}, root / "d.pt")
    cfg = load_config("configs/small.yaml", overrides={
        "model": {"d_model": 64, "n_layers": 2, "n_heads": 4, "ffn_dim": 128, "text_conditioning": "adaln", "dropout": 0.0,
                  "root_relative": True, "time_conditioning": True, "keep_bone_lengths": True},
        "training": {"epochs": 40, "batch_size": 8, "max_frames": 75, "warmup_steps": 5, "val_fraction": 0.1,
                     "learning_rate": 2e-3, "text_dropout": 0.1, "input_noise": 0.01, "scheduled_sampling": 0.2}})
    train(cfg, resolve_sources(cfg, str(root / "d.pt"), env={}), root / "run")
    return root / "run" / "checkpoints" / BEST


def test_a_two_action_model_generates_clips_the_evaluator_tells_apart(two_action_checkpoint, evaluator):
    gen = InferenceGenerator(two_action_checkpoint, encoder=WordsEncoder())
    prompts = ["A person jumps.", "A person sits down.", "Someone hops in place.", "Someone takes a seat."]
    truth = generate_dataset(12, seed=9, config=SynthConfig(multi_actor_rate=0.0, actions=("jump", "sit"),
                                                            min_seconds=3, max_seconds=3))
    emb, _ = embed_clips(evaluator, [s["motion"] for s in truth])
    is_jump = np.array([s["actions"][0].item() == action_index("jump") for s in truth])
    centroids = np.stack([emb[is_jump].mean(0), emb[~is_jump].mean(0)])
    for scale, need in ((0.0, 4), (2.0, 3)):  # a model this small is less steady under strong guidance
        g_emb, recognised = embed_clips(evaluator, gen.generate_many(prompts, [75] * 4, guidance_scale=scale))
        nearest = np.linalg.norm(g_emb[:, None] - centroids[None], axis=-1).argmin(1)
        assert (nearest == [0, 1, 0, 1]).sum() >= need, scale  # generations lie nearest their own action
        if need == 4:
            assert not set(recognised[0::2]) & set(recognised[1::2])  # what jumps is never read as what sits


def test_guidance_scale_zero_equals_the_unguided_model(two_action_checkpoint):
    gen = InferenceGenerator(two_action_checkpoint, encoder=WordsEncoder())
    assert gen.guidance_scale == 2.0  # trained with text dropout: guided by default
    plain = gen.generate("A person jumps.", seconds=2, guidance_scale=0.0)["motion"]
    batched = gen.generate("A person jumps.", seconds=2, guidance_scale=1e-9)["motion"]  # text and null rows batched
    guided = gen.generate("A person jumps.", seconds=2, guidance_scale=3.0)["motion"]
    assert (plain - batched).abs().max() <= 1e-5
    assert (plain - guided).abs().max() > 1e-3
    one = gen.generate_many(["A person sits down."], [50], guidance_scale=3.0)[0]
    many = gen.generate_many(["A person jumps.", "A person sits down."], [75, 50], guidance_scale=3.0)[1]
    assert (one - many).abs().max() <= 1e-4  # a row of a batch is its own generation


def test_eval_motion_writes_the_report(two_action_checkpoint, evaluator, heldout, tmp_path):
    from stickgen_core.evaluation.evaluator import save_evaluator

    ev = save_evaluator(evaluator, tmp_path / "ev.pt")
    gen = InferenceGenerator(two_action_checkpoint, encoder=WordsEncoder())
    report = eval_motion(two_action_checkpoint, _file(heldout[:40], tmp_path), ev, tmp_path / "r.json", generator=gen,
                         mm_texts=4, mm_repeats=2, phrasings=1, sweep_seeds=1)
    on_disk = json.loads((tmp_path / "r.json").read_text())
    assert on_disk["generated"]["r_precision"] == report["generated"]["r_precision"]
    for side in ("ground_truth", "generated"):
        assert set(on_disk[side]["physical"]) >= {"foot_skating_ratio", "mean_jerk", "bone_length_variation",
                                                  "ground_penetration_ratio", "shoulder_gap", "hip_gap",
                                                  "joint_limit_ratio", "anatomy_violation_ratio"}
    assert on_disk["prompt_following"]["ground_truth"]["rate"] >= 0.9
    assert on_disk["generated"]["multimodality"] > 0  # sampling noise makes seeds differ
    assert on_disk["settings"]["guidance_scale"] == 2.0


def test_bones_never_stretch_and_the_figure_stays_on_the_ground(two_action_checkpoint):
    from stickgen_core.evaluation import physical_metrics
    from stickgen_core.model.constraints import bone_lengths, reference_lengths

    gen = InferenceGenerator(two_action_checkpoint, encoder=WordsEncoder())
    prompts = ["A person jumps.", "A person sits down."] * 2
    kept = gen.generate_many(prompts, [100] * 4, temperature=0.02)
    gen.model.cfg.keep_bone_lengths = False
    free = gen.generate_many(prompts, [100] * 4, temperature=0.02)
    gen.model.cfg.keep_bone_lengths = True
    for m in kept:
        assert (bone_lengths(m)[:, :11] <= reference_lengths(m[:1])[:, :11] + 1e-5).all()  # not pelvis_width
        assert m[:, 1::2].min() >= -1e-6
    assert physical_metrics(kept)["bone_length_variation"].mean() < physical_metrics(free)["bone_length_variation"].mean()


def test_rigid_bones_keep_every_bone_its_first_frame_length(two_action_checkpoint):
    from stickgen_core.evaluation import physical_metrics
    from stickgen_core.model.constraints import bone_lengths, reference_lengths

    gen = InferenceGenerator(two_action_checkpoint, encoder=WordsEncoder(), min_bone_share=1.0)
    prompts = ["A person jumps.", "A person sits down."]
    for m in gen.generate_many(prompts, [100] * 2, temperature=0.02):
        assert torch.allclose(bone_lengths(m)[:, :11], reference_lengths(m[:1])[:, :11].expand(100, -1), atol=1e-5)
        assert physical_metrics([m])["bone_length_variation"][0] < 1e-3
    for bad in (1.5, "x", True):
        with pytest.raises(ConfigError, match="min_bone_share"):
            InferenceGenerator(two_action_checkpoint, encoder=WordsEncoder(), min_bone_share=bad)


def _file(samples, tmp_path):
    path = tmp_path / "held.pt"
    atomic_torch_save({"sequences": samples}, path)
    return path


def test_checkpoints_from_before_the_new_settings_load_and_mismatches_are_named(two_action_checkpoint, tmp_path):
    from stickgen_core.errors import StickGenError
    from stickgen_core.train.checkpoint import load_checkpoint, save_checkpoint
    from stickgen_core.model.loading import model_from_checkpoint

    ck = load_checkpoint(two_action_checkpoint)
    old = dict(ck, config=dict(ck["config"], model={k: v for k, v in ck["config"]["model"].items() if k not in (
        "text_conditioning", "root_relative", "time_conditioning", "keep_bone_lengths")}))
    old["model_state_dict"] = {k: v for k, v in ck["model_state_dict"].items()
                               if not k.startswith(("root_in", "clock_in", "null_text")) and "modulation" not in k}
    save_checkpoint(tmp_path / "old.pth", old)
    model, cfg = model_from_checkpoint(load_checkpoint(tmp_path / "old.pth"))  # the pre-issue-14 model
    assert cfg.model.text_conditioning == "prefix" and not cfg.model.root_relative and model.null_text is None
    gen = InferenceGenerator(tmp_path / "old.pth", encoder=WordsEncoder())
    assert gen.guidance_scale == 0.0
    assert "generated unguided" in " ".join(gen.generate("A person jumps.", seconds=1, guidance_scale=2.0)["notes"])
    mixed = dict(ck, model_state_dict=old["model_state_dict"])  # says adaln, holds prefix-only weights
    save_checkpoint(tmp_path / "mixed.pth", mixed)
    with pytest.raises(StickGenError, match="model.text_conditioning: adaln"):
        model_from_checkpoint(load_checkpoint(tmp_path / "mixed.pth"))


def test_eval_motion_without_an_evaluator_says_how_to_make_one(tmp_path, capsys, heldout):
    from stickgen_core.cli import main

    data = _file(heldout[:4], tmp_path)
    assert main(["eval-motion", "--checkpoint", str(tmp_path / "none.pth"), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "motion_evaluator.pt" in err and "stickgen train-evaluator" in err


def test_eval_adversarial_takes_a_guidance_scale_and_records_it(two_action_checkpoint, tmp_path, monkeypatch):
    import stickgen_core.embedding as embedding
    from stickgen_core.cli import main
    from stickgen_core.io import load_dataset

    monkeypatch.setattr(embedding, "TextEncoder", lambda *a, **k: WordsEncoder())  # no MiniLM: the words encoder
    suites = tmp_path / "suites.yaml"
    suites.write_text("version: 1\nsuites:\n  two:\n    description: jump and sit\n    prompts:\n"
                      "      - {id: jump, text: A person jumps., seconds: 3}\n"
                      "      - {id: sit, text: A person sits down., seconds: 3}\n")
    motions = {}
    for scale in ("0", "3"):
        out = tmp_path / f"g{scale}"
        assert main(["eval-adversarial", "--checkpoint", str(two_action_checkpoint), "--suites-file", str(suites),
                     "--output_dir", str(out), "--guidance", scale]) == 0
        report = json.loads((out / "adversarial_report.json").read_text())
        assert report["guidance_scale"] == float(scale)
        motions[scale] = torch.as_tensor(load_dataset(report["results"][0]["motion_path"])[0]["motion"])
    assert not torch.allclose(motions["0"], motions["3"])  # the scale reached the generator
