"""An action plan from the text: which action each moment of a requested clip should show.

The transformer is trained with every frame's ground-truth action as an input (teacher
forcing), but at generation time it feeds back its own guesses, so a weakly conditioned
model drifts into whatever its prior likes best. The planner is a small classifier fitted on
the same training clips — text embedding -> the action at ``bins`` evenly spaced moments of
the clip (so "walks, then sits down" plans walk, then sit) — and generation feeds its plan
in place of the model's guesses, the input the model learned to follow.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError

log = logging.getLogger(__name__)

CHECKPOINT_KEY = "action_planner"


@dataclass(frozen=True)
class PlannerShape:
    embedding_dim: int
    num_actions: int
    bins: int = 8
    hidden: int = 256


class ActionPlanner(nn.Module):
    """Text embedding ``[B, E]`` -> action logits at ``bins`` moments ``[B, bins, A]``."""

    def __init__(self, shape: PlannerShape) -> None:
        super().__init__()
        self.shape = shape
        self.net = nn.Sequential(nn.Linear(shape.embedding_dim, shape.hidden), nn.GELU(), nn.Dropout(0.1),
                                 nn.Linear(shape.hidden, shape.bins * shape.num_actions))

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return self.net(text).view(-1, self.shape.bins, self.shape.num_actions)

    @torch.no_grad()
    def plan(self, text: torch.Tensor, lengths: Sequence[int]) -> torch.Tensor:
        """``[B, max(lengths)]`` action indices: each bin's most likely action over its share of frames."""
        best = self(text).argmax(-1)                                        # [B, bins]
        T = max(lengths)
        frame = torch.arange(T, device=text.device)[None, :]
        n = torch.as_tensor(list(lengths), device=text.device)[:, None].clamp(min=1)
        which = (frame * self.shape.bins // n).clamp(max=self.shape.bins - 1)  # frames past a row's end repeat its last bin
        return best.gather(1, which)

    def to_checkpoint(self) -> dict[str, Any]:
        return {"shape": asdict(self.shape), "state_dict": self.state_dict()}

    @classmethod
    def from_checkpoint(cls, saved: Any, origin: str = "checkpoint") -> "ActionPlanner":
        try:
            planner = cls(PlannerShape(**{k: int(v) for k, v in saved["shape"].items()}))
            planner.load_state_dict(saved["state_dict"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{origin}: '{CHECKPOINT_KEY}' is not an action planner "
                               f"({type(exc).__name__}: {str(exc)[:120]})", origin) from None
        return planner.eval()


def bin_targets(actions: Sequence[torch.Tensor], bins: int) -> torch.Tensor:
    """``[N, bins]``: each clip's action at the middle of each of its ``bins`` equal shares."""
    out = torch.empty(len(actions), bins, dtype=torch.long)
    for i, a in enumerate(actions):  # one gather per clip; clips differ in length
        a = a if a.dim() == 1 else a[:, 0]  # several actors: the first one's plan
        idx = ((torch.arange(bins) + 0.5) * len(a) / bins).long().clamp(max=len(a) - 1)
        out[i] = a[idx]
    return out


def fit_action_planner(embeddings: torch.Tensor, actions: Sequence[torch.Tensor], num_actions: int,
                       bins: int = 8, steps: int = 400, lr: float = 3e-3, seed: int = 0) -> tuple[ActionPlanner, float]:
    """Fit a planner on training clips (full batch, AdamW); returns it and its training accuracy.

    Uses its own random generator, so fitting leaves the caller's random streams untouched
    (resumed training stays exact)."""
    embeddings = embeddings.float()
    targets = bin_targets(actions, bins)
    shape = PlannerShape(int(embeddings.shape[1]), int(num_actions), bins)
    outer = torch.random.get_rng_state()
    torch.manual_seed(seed)
    planner = ActionPlanner(shape)
    opt = torch.optim.AdamW(planner.parameters(), lr=lr, weight_decay=1e-2)
    planner.train()
    for _ in range(steps):
        loss = F.cross_entropy(planner(embeddings).flatten(0, 1), targets.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    torch.random.set_rng_state(outer)
    planner.eval()
    with torch.no_grad():
        acc = float((planner(embeddings).argmax(-1) == targets).float().mean())
    log.info("action planner: %d clips, %d moments each, training accuracy %.3f", len(targets), bins, acc)
    return planner, acc
