"""A GraphQL server of our own on 127.0.0.1 that answers the RunPod SDK's queries.

Every request body is parsed with graphql-core, so a mutation with a broken or injected string
literal fails here as it would at RunPod. Nothing leaves the loopback interface.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from graphql import GraphQLSyntaxError, parse
from graphql.utilities import value_from_ast_untyped

NO_CAPACITY = ("There are no longer any instances available with the requested specifications. "
               "Please refresh and try again.")


class FakeRunPod(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api_key: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api_key = api_key
        self.queries: list[str] = []
        self.deploys: list[dict] = []       # the input of each podFindAndDeployOnDemand
        self.calls: list[tuple[str, dict]] = []
        self.no_capacity: set[str] = set()
        self.pods: list[dict] = [{"desiredStatus": "RUNNING", "runtime": {"uptimeInSeconds": 5, "ports": [
            {"ip": "127.0.0.1", "isIpPublic": False, "privatePort": 8765, "publicPort": 8765, "type": "http"}]}}]
        self.pod_calls = 0
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

    def answer(self, query: str) -> dict:
        self.queries.append(query)
        try:
            doc = parse(query)
        except GraphQLSyntaxError as exc:
            return {"errors": [{"message": f"Syntax Error: {exc.message}"}]}
        field = doc.definitions[0].selection_set.selections[0]
        name = field.name.value
        args = {a.name.value: value_from_ast_untyped(a.value) for a in field.arguments or []}
        inp = args.get("input", {})
        self.calls.append((name, inp))
        if name == "gpuTypes":
            return {"data": {"gpuTypes": [{"id": inp.get("id"), "displayName": inp.get("id"), "securePrice": 1.89,
                                           "communityPrice": 1.19, "lowestPrice": {"uninterruptablePrice": 1.19}}]}}
        if name == "podFindAndDeployOnDemand":
            self.deploys.append(inp)
            if inp.get("gpuTypeId") in self.no_capacity:
                return {"errors": [{"message": NO_CAPACITY}]}
            return {"data": {name: {"id": f"pod{len(self.deploys)}", "imageName": inp.get("imageName"),
                                    "env": [f"{e['key']}={e['value']}" for e in inp.get("env", [])],
                                    "machineId": "m1", "machine": {"podHostId": "h1"}}}}
        if name == "pod":
            script = self.pods[min(self.pod_calls, len(self.pods) - 1)]
            self.pod_calls += 1
            return {"data": {"pod": None if script is None else {"id": inp.get("podId"), **script}}}
        if name in ("podStop", "podResume"):
            return {"data": {name: {"id": inp.get("podId"), "desiredStatus": "EXITED"}}}
        if name == "podTerminate":
            return {"data": {name: None}}
        if name == "myself":
            return {"data": {"myself": {"networkVolumes": []}}}
        return {"errors": [{"message": f"unknown field {name}"}]}


class _Handler(BaseHTTPRequestHandler):
    server: FakeRunPod

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Authorization") != f"Bearer {self.server.api_key}":
            return self._send(401, {"errors": [{"message": "unauthorised"}]})
        self._send(200, self.server.answer(json.loads(body)["query"]))

    def _send(self, code: int, data: dict) -> None:
        out = json.dumps(data).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
