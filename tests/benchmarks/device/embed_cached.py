"""Device-side: attach MiniLM embeddings from the carried SQLite cache (no model there); drop clips whose text is missing."""
import sys, logging
import numpy as np
from stickgen_core.embedding import EmbeddingCache, embed_dataset, DEFAULT_CACHE
from stickgen_core.io import load_dataset, atomic_torch_save

src, dst = sys.argv[1], sys.argv[2]
samples = load_dataset(src)
cache = EmbeddingCache(DEFAULT_CACHE)
model = "all-MiniLM-L6-v2|384|norm"
have = cache.get(model, list({s["description"] for s in samples}))
keep = [s for s in samples if s["description"] in have]
print(f"{len(samples)} clips, {len(keep)} with cached text embeddings ({len(have)} texts)")
tmp = dst + ".in.pt"
atomic_torch_save(list(keep), tmp)

class Cached:
    name, dim, encoded = "all-MiniLM-L6-v2", 384, 0
    def encode(self, texts, progress=None):
        return np.stack([have[t] for t in texts]).astype(np.float32)

print(embed_dataset(tmp, dst, Cached()))
