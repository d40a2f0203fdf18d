"""What each curation threshold means, in words: one source for studio tooltips and CLI --help.

Kept free of heavy imports so that building the CLI parser stays fast.
"""

from __future__ import annotations

# What each field does, in words a user of the studio or the CLI reads (tooltips and --help).
FIELD_HELP: dict[str, str] = {
    "min_quality_pretrain": "A clip reaches pretraining only if its combined quality is at least this.",
    "min_quality_sft": "A pretraining clip reaches SFT only if its quality is at least this.",
    "min_camera_stability_sft": "SFT keeps only clips whose camera stability (1 = still camera) is at least this.",
    "min_realism_pretrain": "Pretraining drops clips whose realism (ground penetration, superhuman speed or "
                            "acceleration, stretching limbs; 1 = plausible) is below this.",
    "min_realism_sft": "SFT drops pretraining clips whose realism is below this.",
    "max_artifact_score": "Pretraining drops clips whose artifact score (jitter, frozen frames, foot sliding, "
                          "velocity explosions; 0 = clean) is above this.",
    "min_frames": "Clips shorter than this many frames are dropped (25 frames = 1 s).",
    "max_frames": "Clips longer than this many frames are dropped.",
    "balance_max_fraction": "In the SFT split no action may exceed this share (clips of over-represented "
                            "actions are left out, best quality kept).",
    "balance_by_source": "Also cap each source's share of the SFT split at the max share per source.",
    "max_source_fraction": "In the SFT split no source may exceed this share (when balancing by source).",
    "synthetic_quality_penalty": "Quality of clips from synthetic sources is multiplied by (1 - this).",
    "prefer_mocap": "When balancing, keep mocap clips before others of equal quality.",
    "source_weights": "How much each source's realism counts in its quality (0 = ignored, 1 = fully).",
    "default_source_weight": "Realism weight of sources not listed in the source weights.",
    "synthetic_sources": "Source names treated as synthetic (they get the synthetic quality penalty).",
    "mocap_sources": "Source names treated as motion capture (preferred when balancing).",
    "normalize_height": "Export only: scale every exported clip to the target height. Does not change the counts.",
    "target_height": "Export only: figure height in metres after normalisation. Does not change the counts.",
    "smooth": "Export only: smooth exported motion in time. Does not change the counts.",
    "smooth_sigma": "Export only: Gaussian smoothing width in frames. Does not change the counts.",
    "seed": "Random seed of the balancing tie-breaks (same seed, same splits).",
}
# Settings that only shape the exported files, never which clips are kept.
EXPORT_ONLY_FIELDS = ("normalize_height", "target_height", "smooth", "smooth_sigma")
