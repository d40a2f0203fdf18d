"""A GraphQL server of our own on 127.0.0.1 that answers the RunPod SDK's queries like RunPod does.

A real schema (graphql-core, the subset of RunPod's we use) with resolvers over pod state kept
here: a query is parsed and validated (a broken or injected string literal, an unknown field or
argument fails as at RunPod) and the answer holds ONLY the fields selected. Pods are created by
``podFindAndDeployOnDemand`` / ``podRentInterruptable``, stopped by ``podStop`` (no GPU billing,
no runtime), removed by ``podTerminate``. Each pod gets a key scoped to it (``pod_keys``), as
RunPod injects ``RUNPOD_API_KEY`` into a pod; that key can read, stop and terminate its own pod only.
Nothing leaves the loopback interface.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from graphql import GraphQLError, build_schema, graphql_sync

NO_CAPACITY = ("There are no longer any instances available with the requested specifications. "
               "Please refresh and try again.")

SDL = """
scalar Void
enum CloudTypeEnum { ALL SECURE COMMUNITY }
enum PodStatus { CREATED RUNNING RESTARTING EXITED PAUSED DEAD TERMINATED }
input EnvironmentVariableInput { key: String! value: String! }
input PodFilter { podId: String! }
input PodStopInput { podId: String! incrementVersion: Boolean }
input PodTerminateInput { podId: String! }
input PodResumeInput { podId: String! gpuCount: Int! }
input GpuTypeFilter { id: String }
input GpuLowestPriceInput { gpuCount: Int }
input PodFindAndDeployOnDemandInput {
  name: String imageName: String cloudType: CloudTypeEnum startSsh: Boolean gpuTypeId: String
  supportPublicIp: Boolean gpuCount: Int volumeInGb: Int minVcpuCount: Int minMemoryInGb: Int
  allowedCudaVersions: [String] dataCenterId: String dockerArgs: String countryCode: String
  containerDiskInGb: Int ports: String volumeMountPath: String env: [EnvironmentVariableInput]
  templateId: String networkVolumeId: String minDownload: Int minUpload: Int instanceId: String
}
input PodRentInterruptableInput {
  bidPerGpu: Float! name: String imageName: String cloudType: CloudTypeEnum startSsh: Boolean gpuTypeId: String
  gpuCount: Int volumeInGb: Int containerDiskInGb: Int ports: String volumeMountPath: String
  env: [EnvironmentVariableInput] networkVolumeId: String dataCenterId: String allowedCudaVersions: [String]
}
type PodRuntimePorts { ip: String isIpPublic: Boolean privatePort: Int publicPort: Int type: String }
type PodRuntime { uptimeInSeconds: Int ports: [PodRuntimePorts] }
type PodMachine { podHostId: String gpuDisplayName: String }
type Pod {
  id: String! name: String imageName: String env: [String] machineId: String machine: PodMachine
  desiredStatus: PodStatus costPerHr: Float gpuCount: Int containerDiskInGb: Int volumeInGb: Int
  volumeMountPath: String ports: String uptimeSeconds: Int lastStatusChange: String podType: String
  dockerArgs: String dockerId: String memoryInGb: Float vcpuCount: Float port: Int runtime: PodRuntime
}
type LowestPrice { minimumBidPrice: Float uninterruptablePrice: Float }
type GpuType {
  id: String! displayName: String manufacturer: String memoryInGb: Int cudaCores: Int maxGpuCount: Int
  secureCloud: Boolean communityCloud: Boolean securePrice: Float communityPrice: Float oneMonthPrice: Float
  threeMonthPrice: Float oneWeekPrice: Float communitySpotPrice: Float secureSpotPrice: Float
  lowestPrice(input: GpuLowestPriceInput): LowestPrice
}
type NetworkVolume { id: String! name: String size: Int dataCenterId: String }
type User { id: String pubKey: String networkVolumes: [NetworkVolume] pods: [Pod] }
type Query { pod(input: PodFilter!): Pod  gpuTypes(input: GpuTypeFilter): [GpuType]  myself: User }
type Mutation {
  podFindAndDeployOnDemand(input: PodFindAndDeployOnDemandInput!): Pod
  podRentInterruptable(input: PodRentInterruptableInput!): Pod
  podStop(input: PodStopInput!): Pod
  podResume(input: PodResumeInput!): Pod
  podTerminate(input: PodTerminateInput!): Void
}
"""
SCHEMA = build_schema(SDL)
PRICES = {"securePrice": 1.89, "communityPrice": 1.19, "secureSpotPrice": 0.89, "communitySpotPrice": 0.59}
RUNNING_RUNTIME = {"uptimeInSeconds": 5, "ports": [
    {"ip": "127.0.0.1", "isIpPublic": False, "privatePort": 8765, "publicPort": 8765, "type": "http"}]}


class FakeRunPod(ThreadingHTTPServer):
    """``pod_state``: id -> the pod as RunPod would return it (every field; the schema picks).
    ``pods``: a script of runtime snapshots, the next applied to the pod at each ``pod`` query
    (the last one repeats), so tests can play a pod that boots, restarts or never gets ports."""

    daemon_threads = True

    def __init__(self, api_key: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api_key = api_key
        self.lock = threading.RLock()
        self.queries: list[str] = []
        self.deploys: list[dict] = []       # the input of each podFindAndDeployOnDemand / podRentInterruptable
        self.calls: list[tuple[str, dict]] = []
        self.no_capacity: set[str] = set()
        self.pods: list[dict | None] = [{"desiredStatus": "RUNNING", "runtime": RUNNING_RUNTIME}]
        self.pod_state: dict[str, dict] = {}
        self.pod_keys: dict[str, str] = {}
        self.pod_calls = 0
        self.fail_with: str | None = None   # every request answers this error (an API outage)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()

    def live_pods(self) -> dict[str, dict]:
        """Pods that exist (any status but TERMINATED): what would still appear in RunPod's console."""
        with self.lock:
            return dict(self.pod_state)

    def billing_pods(self) -> dict[str, dict]:
        """Pods whose GPU is billed (RUNNING)."""
        return {k: v for k, v in self.live_pods().items() if v["desiredStatus"] == "RUNNING"}

    def interrupt(self, pod_id: str) -> None:
        """RunPod takes a spot pod back: it is EXITED with no runtime."""
        with self.lock:
            self.pod_state[pod_id].update(desiredStatus="EXITED", runtime=None)

    # ------------------------------------------------------------------ GraphQL
    def answer(self, query: str, key: str | None = None) -> dict:
        self.queries.append(query)
        if self.fail_with:
            return {"errors": [{"message": self.fail_with}]}
        with self.lock:
            result = graphql_sync(SCHEMA, query, root_value=_Root(self, key or self.api_key))
        out: dict = {"data": result.data}
        if result.errors:
            out["errors"] = [{"message": e.message} for e in result.errors]
        return out


class _Root:
    """Resolvers of Query and Mutation fields (graphql-core calls ``root.<field>(info, **args)``)."""

    def __init__(self, fake: FakeRunPod, key: str) -> None:
        self.fake, self.key = fake, key

    def _scope(self, name: str, pod_id: str | None = None) -> None:
        self.fake.calls.append((name, {"podId": pod_id} if pod_id else {}))
        if self.key == self.fake.api_key:
            return
        owner = next((p for p, k in self.fake.pod_keys.items() if k == self.key), None)
        if owner is None or pod_id != owner:
            raise GraphQLError(f"unauthorised: this key may not call {name}" + (f" on {pod_id}" if pod_id else ""))

    def gpuTypes(self, _info, input=None):  # noqa: N802 - RunPod's names
        self._scope("gpuTypes")
        gid = (input or {}).get("id")
        return [{"id": gid, "displayName": gid, **PRICES, "lowestPrice": {"uninterruptablePrice": 1.19,
                                                                         "minimumBidPrice": 0.49}}]

    def myself(self, _info):
        self._scope("myself")
        return {"id": "user1", "networkVolumes": [], "pods": [{"id": k, **v} for k, v in self.fake.pod_state.items()]}

    def pod(self, _info, input):
        pod_id = input["podId"]
        self._scope("pod", pod_id)
        fake = self.fake
        state = fake.pod_state.get(pod_id)
        if state is None:
            return None
        script = fake.pods[min(fake.pod_calls, len(fake.pods) - 1)]
        fake.pod_calls += 1
        if script is None:  # the script says: RunPod has lost the pod
            fake.pod_state.pop(pod_id, None)
            return None
        if state["desiredStatus"] == "RUNNING":
            state.update(script)
        return {"id": pod_id, **state}

    def _deploy(self, name: str, inp: dict, spot: bool) -> dict:
        self._scope(name)
        fake = self.fake
        fake.deploys.append(inp)
        fake.calls[-1] = (name, inp)
        if inp.get("gpuTypeId") in fake.no_capacity:
            raise GraphQLError(NO_CAPACITY)
        pod_id = f"pod{len(fake.deploys)}"
        price = float(inp["bidPerGpu"]) if spot else PRICES["securePrice" if inp.get("cloudType") != "COMMUNITY"
                                                             else "communityPrice"]
        env = [f"{e['key']}={e['value']}" for e in inp.get("env") or []]
        fake.pod_keys[pod_id] = f"pod-key-{secrets.token_hex(8)}"
        fake.pod_state[pod_id] = {"name": inp.get("name"), "imageName": inp.get("imageName"), "env": env,
                                  "machineId": "m1", "machine": {"podHostId": "h1", "gpuDisplayName": "GPU"},
                                  "desiredStatus": "RUNNING", "costPerHr": price * int(inp.get("gpuCount") or 1),
                                  "gpuCount": inp.get("gpuCount"), "podType": "INTERRUPTABLE" if spot else "RESERVED",
                                  "runtime": None, "uptimeSeconds": 0}
        return {"id": pod_id, **fake.pod_state[pod_id]}

    def podFindAndDeployOnDemand(self, _info, input):  # noqa: N802
        return self._deploy("podFindAndDeployOnDemand", input, spot=False)

    def podRentInterruptable(self, _info, input):  # noqa: N802
        return self._deploy("podRentInterruptable", input, spot=True)

    def _existing(self, name: str, pod_id: str) -> dict:
        self._scope(name, pod_id)
        state = self.fake.pod_state.get(pod_id)
        if state is None:
            raise GraphQLError(f"pod {pod_id} not found")
        return state

    def podStop(self, _info, input):  # noqa: N802
        state = self._existing("podStop", input["podId"])
        state.update(desiredStatus="EXITED", runtime=None)
        return {"id": input["podId"], **state}

    def podResume(self, _info, input):  # noqa: N802
        state = self._existing("podResume", input["podId"])
        state.update(desiredStatus="RUNNING")
        return {"id": input["podId"], **state}

    def podTerminate(self, _info, input):  # noqa: N802
        self._existing("podTerminate", input["podId"])
        del self.fake.pod_state[input["podId"]]
        return None


class _Handler(BaseHTTPRequestHandler):
    server: FakeRunPod

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        auth = self.headers.get("Authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else ""
        if key != self.server.api_key and key not in self.server.pod_keys.values():
            return self._send(401, {"errors": [{"message": "unauthorised"}]})
        self._send(200, self.server.answer(json.loads(body)["query"], key))

    def _send(self, code: int, data: dict) -> None:
        out = json.dumps(data).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
