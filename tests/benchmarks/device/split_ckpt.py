"""Device-side: a checkpoint without optimizer state, split into parts under 16 MiB (the tool's file limit)."""
import sys, torch
ck = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
for k in ("optimizer_state_dict", "scheduler_state_dict", "rng_state"):
    ck.pop(k, None)
sd = ck.pop("model_state_dict")
parts, cur, size = [], {}, 0
for k, v in sd.items():
    n = v.numel() * v.element_size()
    if cur and size + n > 12 * 2**20:
        parts.append(cur); cur, size = {}, 0
    cur[k] = v; size += n
parts.append(cur)
torch.save(ck, f"{sys.argv[2]}/ckpt_meta.pt")
for i, p in enumerate(parts):
    torch.save(p, f"{sys.argv[2]}/ckpt_part{i}.pt")
print(len(parts), "parts")
