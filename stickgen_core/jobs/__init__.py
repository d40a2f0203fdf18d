"""Training jobs that outlive the window: job specs, a run registry, local and RunPod backends,
and the run agent served on pods.

```python
from stickgen_core.jobs import JobSpec, launch, list_runs, sft_from
run = launch(JobSpec(stage="pretrain", config="small", data="data/curated/pretrain_data.pt"), "ws")
rows, offset = run.read_metrics(0)      # then read_metrics(offset) for the new lines only
run.status()["state"]; run.log_tail(20); run.stop(); resume_run(run); sft_from(run)
client = JobClient("ws")                 # the same by run id: launch/status/stop/terminate/fetch/logs/list
```
"""

from ..run_state import RunState
from .client import JobClient
from .command import launch_argv, launch_command
from .registry import delete_run, find_run, launch, list_runs, preflight, resume_run, sft_from, sft_spec
from .run import ACTIVE, TERMINAL, Run
from .run_record import RunRecord
from .spec import JobSpec, LoraSpec

__all__ = ["ACTIVE", "TERMINAL", "JobClient", "JobSpec", "LoraSpec", "Run", "RunRecord", "RunState", "delete_run", "find_run",
           "launch", "launch_argv", "launch_command", "list_runs", "preflight", "resume_run", "sft_from", "sft_spec"]
