# One device call: issue 16's GPU path check (large config, bf16) then issue 14's GPU training run.
T0=$(date +%s); DEADLINE=${DEADLINE:-500}
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 STICKGEN_CACHE=$PWD/.devcarry/cache
OUT=${OUT:-/tmp/out}; mkdir -p $OUT; L=$OUT/log.txt
S="python3 -m stickgen_core.cli"; W=/tmp/w; mkdir -p $W
NS=${NS:-11000}
{
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv; python3 -c "import torch;print(torch.__version__)"
[ -n "$SKIP_BENCH" ] || for b in 16 64; do python3 tests/benchmarks/bench_gpu.py --config configs/large.yaml --batch $b --steps 20 2>&1 | grep -v Warning; done
echo "== data $(( $(date +%s)-T0 )) s"
$S generate-data --num-samples $NS --defect-rate 0.1 --seed 3 --output $W/raw.pt 2>&1 | tail -2
$S curate --inputs $W/raw.pt --config configs/small.yaml --output-dir $W/cur 2>&1 | head -3
python3 tests/benchmarks/device/embed_cached.py $W/cur/pretrain_data.pt $W/train.pt 2>&1 | tail -2
N=$(python3 -c "import torch;print(len(torch.load('$W/train.pt',weights_only=True)['sequences']))")
LEFT=$(( DEADLINE - ($(date +%s)-T0) - 45 ))
sed "s/EPOCHS/1/; s#REPO#$PWD#" tests/benchmarks/device/G.yaml.in > $W/G1.yaml
E=$(python3 tests/benchmarks/device/plan_epochs.py $W/G1.yaml $N $LEFT)
echo "== train: $N clips, $LEFT s left, $E epochs"
sed "s/EPOCHS/$E/; s#REPO#$PWD#; s/1.0e-3/${LR:-1.0e-3}/" tests/benchmarks/device/G.yaml.in > $W/G.yaml; cp $W/G.yaml $OUT/G.yaml
timeout $(( LEFT + 30 )) $S train --config $W/G.yaml --data_path $W/train.pt --run-dir $W/runs/G ${INIT:+--init_from $INIT} 2>&1 | grep -v "Warning\|warn(" | tail -40
echo "== split $(( $(date +%s)-T0 )) s"
python3 tests/benchmarks/device/split_ckpt.py $W/runs/G/checkpoints/model_checkpoint_best.pth $OUT
cp $W/runs/G/metrics.jsonl $OUT/ 2>/dev/null
echo "== done $(( $(date +%s)-T0 )) s"
} 2>&1 | tee $L
