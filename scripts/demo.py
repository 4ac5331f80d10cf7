"""`make demo`: a guided walk through the product over HTTP, printing each step.

It uses the services `make dev` runs (http://127.0.0.1:8000 and :8080). When nothing answers there, or
with `--start`, it starts them itself with `scripts/dev.py` on free ports and a temporary data
directory (with the same `CHAT_*` environment, so `CHAT_STORAGE=aws` works too), and stops them at the
end. Tokens are signed like `uv run app-api dev-token` does, with the secret of `CHAT_DATA_DIR`.

Exits 0 when every step worked, 1 otherwise (the failed step says why).

    uv run python scripts/demo.py [--app-url URL --inference-url URL] [--start]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DOCUMENTS = (
    ("kestrel-commuter-handbook.md", "text/markdown"),
    ("travel-expense-policy.pdf", "application/pdf"),
)
QUESTION = "How long does it take to fully charge the battery?"
FOLLOW_UP = "Is a taxi to the airport reimbursed, and does this taxi fare need a receipt?"
RECEIPT_NAME = "taxi-receipt.txt"
RECEIPT = (
    "Taxi fare from the airport to the Hotel Lindenhof with two suitcases, 14 March 2026, EUR 46.50, "
    "paid by card. This taxi fare is on the itemised receipt from Stadt-Taxi Zurich."
)
OWNER = ("alice", "alice@example.com", "Alice")
FRIEND = ("bob", "bob@example.com", "Bob")
ADMIN = ("ada", "ada@example.com", "Ada")
INGEST_TIMEOUT = 180.0
START_TIMEOUT = 120.0
TOTAL_STEPS = 11


class StepFailedError(Exception):
    """A step of the demo did not do what it should; the message says what happened."""


@dataclass
class Turn:
    """What one streamed turn produced."""

    text: str = ""
    citations: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None


# --- output ----------------------------------------------------------------------------------------

_TTY = sys.stdout.isatty()


def _style(code: str, text: str) -> str:
    return f"\033[{code}m{text}\033[0m" if _TTY else text


def step(number: int, title: str) -> None:
    """Print a step's heading."""
    print(f"\n{_style('1;36', f'[{number}/{TOTAL_STEPS}]')} {_style('1', title)}", flush=True)


def say(text: str) -> None:
    """Print a line of a step."""
    print(f"    {text}", flush=True)


def _short(text: str, limit: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- HTTP ------------------------------------------------------------------------------------------


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:  # JUSTIFICATION: not the JSON error body: the raw text explains the failure.
        return f"HTTP {response.status_code}: {_short(response.text, 300)}"
    error = body.get("error", {}) if isinstance(body, dict) else {}
    return f"HTTP {response.status_code} {error.get('code', '')}: {error.get('message', body)}"


def expect(response: httpx.Response, *statuses: int) -> Any:
    """The JSON body of `response`, or `StepFailedError` when its status is not one of `statuses`."""
    if response.status_code not in statuses:
        request = response.request
        raise StepFailedError(f"{request.method} {request.url.path} answered {_error_text(response)}")
    return response.json() if response.content else None


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url, timeout=2).status_code == 200
    except httpx.TransportError:  # JUSTIFICATION: no answer is what this probe reports.
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _own_services(data_dir: Path) -> Iterator[tuple[str, str]]:
    """Both services from `scripts/dev.py` on free ports with `data_dir`, stopped at the end."""
    app_port, inference_port = _free_port(), _free_port()
    log = (data_dir / "services.log").open("w")
    env = os.environ | {"CHAT_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    for inherited in ("CHAT_PUBLIC_URL", "CHAT_CORS_ORIGINS"):  # dev.py derives them from the ports
        env.pop(inherited, None)
    command = [sys.executable, str(ROOT / "scripts" / "dev.py")]
    command += ["--app-port", str(app_port), "--inference-port", str(inference_port)]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    app_url, inference_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{inference_port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client() as client:
            while not (_answers(client, f"{app_url}/health") and _answers(client, f"{inference_url}/ping")):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    tail = (data_dir / "services.log").read_text()[-3000:]
                    raise StepFailedError(f"the services did not start; their log ends with:\n{tail}")
                time.sleep(0.3)
        yield app_url, inference_url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                # JUSTIFICATION: the runner did not stop in time; it is killed so the demo can end.
                process.kill()
                process.wait()
        log.close()


def _token(user: tuple[str, str, str], roles: list[str] | None = None) -> str:
    """A development token for `user`, signed with the secret of the current `CHAT_*` settings."""
    from app_api.config import Settings
    from chat_http.auth import mint_dev_token
    from chat_http.secrets import dev_jwt_secret

    user_id, email, name = user
    return mint_dev_token(dev_jwt_secret(Settings()), user_id=user_id, email=email, name=name, roles=roles)


# --- the steps -------------------------------------------------------------------------------------


class Demo:
    """The walk-through, one method per step, against one app-api and one inference-api."""

    def __init__(self, app_url: str, inference_url: str, *, own_services: bool) -> None:
        self.own_services = own_services
        self.app_url = app_url
        self.inference_url = inference_url
        self.owner = httpx.Client(
            base_url=app_url, headers={"Authorization": f"Bearer {_token(OWNER)}"}, timeout=30
        )
        self.friend = httpx.Client(
            base_url=app_url, headers={"Authorization": f"Bearer {_token(FRIEND)}"}, timeout=30
        )
        self.assistant_id = ""
        self.session_id = str(uuid.uuid4())

    def close(self) -> None:
        """Close the HTTP clients."""
        self.owner.close()
        self.friend.close()

    def sign_in(self) -> None:
        """Tokens work, and the offline model is in the caller's catalogue."""
        step(1, f"Sign in and look at the model catalogue ({self.app_url})")
        health = expect(self.owner.get("/health"), 200)
        say(f"app-api {health['version']}, storage: {health['storage']['backend']}")
        admin = {"Authorization": f"Bearer {_token(ADMIN, roles=['admin'])}"}
        catalogue = expect(self.owner.get("/admin/managed-models", headers=admin), 200)["models"]
        say(f"The catalogue, as the admin {ADMIN[2]} sees it:")
        for model in catalogue:
            status = "enabled" if model["enabled"] else "disabled until configured"
            say(f"  {model['modelId']:<46} {model['providerName']:<20} {status}")
        models = [model["modelId"] for model in expect(self.owner.get("/models"), 200)["models"]]
        say(f"{OWNER[2]} may use: {', '.join(models) or 'nothing'}")
        if "offline-extractive" not in models:
            raise StepFailedError("the offline model is not in the catalogue: run `uv run app-api seed`")

    def create_assistant(self) -> None:
        """An assistant shared by email, so it can be shared in a later step."""
        step(2, "Create an assistant")
        assistant = expect(
            self.owner.post(
                "/assistants",
                json={
                    "name": "Kestrel and travel helper",
                    "description": "Answers from the e-bike handbook and the travel expense policy.",
                    "instructions": "Answer from the documents and cite them.",
                    "visibility": "SHARED",
                    "tags": ["demo"],
                },
            ),
            201,
        )
        self.assistant_id = assistant["assistantId"]
        say(
            f"{assistant['name']!r} -> {self.assistant_id} ({assistant['visibility']}, {assistant['status']})"
        )

    def upload_documents(self) -> None:
        """Each document: upload URL -> PUT the file -> confirm the upload."""
        step(3, "Upload two documents to its knowledge base (one Markdown, one PDF)")
        base = f"/assistants/{self.assistant_id}/documents"
        for filename, content_type in DOCUMENTS:
            data = (EXAMPLES / filename).read_bytes()
            upload = expect(
                self.owner.post(
                    f"{base}/upload-url",
                    json={"filename": filename, "contentType": content_type, "sizeBytes": len(data)},
                ),
                201,
            )
            put = httpx.put(
                upload["uploadUrl"], content=data, headers={"Content-Type": content_type}, timeout=30
            )
            if put.status_code not in (200, 204):
                raise StepFailedError(f"PUT to the upload URL of {filename} answered {_error_text(put)}")
            document_id = upload["documentId"]
            document = expect(self.owner.get(f"{base}/{document_id}"), 200)
            if document["status"] == "uploading":
                complete = self.owner.post(f"{base}/{document_id}/complete")
                document = expect(complete, 202, 409)
                if complete.status_code == 409:  # ingestion started meanwhile: a read noticed the file
                    document = expect(self.owner.get(f"{base}/{document_id}"), 200)
            say(
                f"{filename}  {len(data):>6} bytes  {content_type:<16} -> {document_id} ({document['status']})"
            )

    def wait_for_ingestion(self) -> None:
        """Poll the documents until all are complete, drawing a progress bar."""
        step(4, "Wait for ingestion (parse, chunk, embed, index)")
        started = time.monotonic()
        last = ""
        while True:
            documents = expect(self.owner.get(f"/assistants/{self.assistant_id}/documents"), 200)["documents"]
            failed = [doc for doc in documents if doc["status"] == "failed"]
            if failed:
                reasons = "; ".join(f"{doc['filename']}: {doc['errorMessage']}" for doc in failed)
                raise StepFailedError(f"ingestion failed: {reasons}")
            total = sum(doc["chunkCount"] or 0 for doc in documents)
            done = sum(doc["chunksDone"] or 0 for doc in documents)
            complete = sum(doc["status"] == "complete" for doc in documents)
            fraction = sum(
                1.0 if doc["status"] == "complete" else (doc["chunksDone"] or 0) / (doc["chunkCount"] or 1)
                for doc in documents
            ) / len(documents)
            states = ", ".join(f"{doc['filename'].split('.')[-1]}: {doc['status']}" for doc in documents)
            width = 30
            bar = "#" * round(fraction * width) + "-" * (width - round(fraction * width))
            line = f"[{bar}] {fraction:4.0%}  {done}/{total} chunks  ({states})"
            if _TTY:
                print(f"\r    {line}", end="", flush=True)
            elif line != last:
                say(line)
            last = line
            if complete == len(documents):
                break
            if time.monotonic() - started > INGEST_TIMEOUT:
                raise StepFailedError(f"ingestion did not finish within {INGEST_TIMEOUT:.0f} s ({states})")
            time.sleep(0.4)
        if _TTY:
            print()
        say(f"{len(documents)} documents, {total} chunks indexed in {time.monotonic() - started:.1f} s")

    def share(self) -> None:
        """Share with a second user, who then sees the assistant as shared with them."""
        step(5, f"Share the assistant with {FRIEND[1]}")
        shares = expect(
            self.owner.post(f"/assistants/{self.assistant_id}/shares", json={"emails": [FRIEND[1]]}), 200
        )
        say(f"shared with: {', '.join(shares['sharedWith'])}")
        seen = expect(self.friend.get("/assistants"), 200)["assistants"]
        mine = [item for item in seen if item["assistantId"] == self.assistant_id]
        if not mine or not mine[0]["isSharedWithMe"]:
            raise StepFailedError(f"{FRIEND[2]} does not see the shared assistant")
        say(f"{FRIEND[2]} sees {mine[0]['name']!r} (isSharedWithMe: true, owner: {mine[0]['ownerName']})")

    def start_session(self) -> None:
        """Create the session with a title (a first turn would create it too)."""
        step(6, "Start a session")
        session = expect(
            self.owner.put(
                f"/sessions/{self.session_id}/metadata",
                json={"title": "Demo: battery and travel questions", "lastModel": "offline-extractive"},
            ),
            200,
        )
        say(f"session {session['sessionId']}  title {session['title']!r}")

    def _turn(self, body: dict[str, Any]) -> Turn:
        """Stream one turn from inference-api, printing the answer as it arrives."""
        turn = Turn()
        headers = {"Authorization": self.owner.headers["Authorization"], "Accept": "text/event-stream"}
        with httpx.stream(
            "POST", f"{self.inference_url}/invocations", json=body, headers=headers, timeout=120
        ) as response:
            if response.status_code != 200:
                response.read()
                raise StepFailedError(f"POST /invocations answered {_error_text(response)}")
            event = ""
            print("    ", end="", flush=True)
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data = json.loads(line[5:])
                    turn.events.append(event)
                    if event == "citation":
                        turn.citations.append(data)
                    elif event == "content_block_delta" and data.get("type") == "text":
                        turn.text += data["text"]
                        print(data["text"].replace("\n", "\n    "), end="", flush=True)
                    elif event == "metadata" and "messageId" in data:
                        turn.final = data
                    elif event == "stream_error":
                        turn.error = data
            print()
        if turn.error is not None:
            raise StepFailedError(f"the turn failed: {turn.error.get('code')}: {turn.error.get('message')}")
        if not turn.events or turn.events[-1] != "done" or not turn.final:
            raise StepFailedError(f"the stream ended early: {turn.events[-5:]}")
        return turn

    def _summary(self, turn: Turn) -> None:
        say(f"Citations ({len(turn.citations)}):")
        for number, citation in enumerate(turn.citations, start=1):
            say(f"[{number}] {citation['fileName']}: {_short(citation['text'], 90)}")
        usage, metrics = turn.final.get("usage", {}), turn.final.get("metrics", {})
        say(
            f"{usage.get('inputTokens')} input + {usage.get('outputTokens')} output tokens, "
            f"{metrics.get('latencyMs')} ms, cost ${turn.final.get('cost', 0):.6f}, "
            f"stored as {turn.final.get('messageId')}"
        )

    def ask(self) -> None:
        """The first turn binds the assistant; its passages come back as citations."""
        step(7, f"Ask: {QUESTION!r} (streamed from {self.inference_url})")
        turn = self._turn(
            {
                "session_id": self.session_id,
                "message": QUESTION,
                "model_id": "offline-extractive",
                "assistant_id": self.assistant_id,
            }
        )
        self._summary(turn)
        if not turn.citations or "5 hours" not in turn.text:
            raise StepFailedError("the answer does not quote the handbook's charging time with citations")

    def attach_and_ask(self) -> None:
        """Files: presign -> PUT -> complete, then a turn with `file_upload_ids`."""
        step(8, f"Attach {RECEIPT_NAME} to a second turn")
        data = RECEIPT.encode()
        presign = expect(
            self.owner.post(
                "/files/presign",
                json={
                    "sessionId": self.session_id,
                    "filename": RECEIPT_NAME,
                    "mimeType": "text/plain",
                    "sizeBytes": len(data),
                },
            ),
            200,
        )
        put = httpx.put(
            presign["presignedUrl"], content=data, headers={"Content-Type": "text/plain"}, timeout=30
        )
        if put.status_code not in (200, 204):
            raise StepFailedError(f"PUT to the file's upload URL answered {_error_text(put)}")
        ready = expect(self.owner.post(f"/files/{presign['uploadId']}/complete"), 200)
        say(f"{RECEIPT_NAME} -> upload {ready['uploadId']} ({ready['status']}, {ready['sizeBytes']} bytes)")
        say(f"Ask: {FOLLOW_UP!r}")
        turn = self._turn(
            {
                "session_id": self.session_id,
                "message": FOLLOW_UP,
                "model_id": "offline-extractive",
                "file_upload_ids": [ready["uploadId"]],
            }
        )
        self._summary(turn)
        if RECEIPT_NAME not in turn.text:
            raise StepFailedError("the answer does not quote the attached file")

    def list_history(self) -> None:
        """The session in the list, and its four stored messages."""
        step(9, "List sessions and messages")
        sessions = expect(self.owner.get("/sessions"), 200)["sessions"]
        for session in sessions[:5]:
            say(f"session {session['sessionId']}  {session['title']!r}  {session['messageCount']} turns")
        if self.session_id not in {session["sessionId"] for session in sessions}:
            raise StepFailedError("the demo's session is not in the list")
        messages = expect(self.owner.get(f"/sessions/{self.session_id}/messages"), 200)["messages"]
        for message in messages:
            text = " ".join(block.get("text") or "" for block in message["content"])
            files = [block["document"]["name"] for block in message["content"] if block.get("document")]
            extra = f"  [attached: {', '.join(files)}]" if files else ""
            cited = f"  ({len(message['citations'])} citations)" if message.get("citations") else ""
            say(f"{message['id']:<52} {message['role']:<9} {_short(text, 60)}{extra}{cited}")
        if [message["role"] for message in messages] != ["user", "assistant", "user", "assistant"]:
            raise StepFailedError(f"expected two stored turns, found {len(messages)} messages")

    def costs(self) -> None:
        """This month's usage and cost, by model."""
        step(10, "Show the cost summary for this month")
        summary = expect(self.owner.get("/costs/summary"), 200)
        say(
            f"{summary['periodStart']} to {summary['periodEnd']}: {summary['totalRequests']} requests, "
            f"{summary['totalInputTokens']} input + {summary['totalOutputTokens']} output tokens, "
            f"total ${summary['totalCost']:.6f}"
        )
        for model in summary["models"]:
            cost = model["costBreakdown"].get("totalCost", 0)
            say(f"  {model['modelName']} ({model['modelId']}): {model['requestCount']} requests, ${cost:.6f}")
        if summary["totalRequests"] < 2:
            raise StepFailedError("the two turns are missing from the cost summary")

    def done(self) -> None:
        """Where to go next."""
        step(11, "Done")
        if self.own_services:
            say("The demo's own services stop now; `make dev` runs them until Ctrl-C, with the dev page")
            say("at http://127.0.0.1:8000/dev and the API docs at http://127.0.0.1:8000/docs.")
        else:
            say(f"Open {self.app_url}/dev to chat in a browser, {self.app_url}/docs for the API.")


def run(app_url: str, inference_url: str, *, own_services: bool = False) -> None:
    """Every step in order; `StepFailedError` at the first that fails."""
    demo = Demo(app_url, inference_url, own_services=own_services)
    try:
        for action in (
            demo.sign_in,
            demo.create_assistant,
            demo.upload_documents,
            demo.wait_for_ingestion,
            demo.share,
            demo.start_session,
            demo.ask,
            demo.attach_and_ask,
            demo.list_history,
            demo.costs,
            demo.done,
        ):
            action()
    finally:
        demo.close()


def main(argv: list[str] | None = None) -> int:
    """Run the demo against running services, or against services of its own."""
    parser = argparse.ArgumentParser(prog="demo.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--app-url", default="http://127.0.0.1:8000", help="app-api (default: make dev's)")
    parser.add_argument("--inference-url", default="http://127.0.0.1:8080", help="inference-api")
    parser.add_argument("--start", action="store_true", help="always start services of its own")
    args = parser.parse_args(argv)
    started = time.monotonic()
    data_dir: Path | None = None
    try:
        with httpx.Client() as probe:
            app_up = not args.start and _answers(probe, f"{args.app_url}/health")
            inference_up = not args.start and _answers(probe, f"{args.inference_url}/ping")
        if app_up and inference_up:
            print(f"Using the running services: {args.app_url} and {args.inference_url}")
            run(args.app_url, args.inference_url)
        elif app_up or inference_up:
            up, down = (args.app_url, args.inference_url) if app_up else (args.inference_url, args.app_url)
            raise StepFailedError(f"{up} answers but {down} does not: start both with `make dev`")
        else:
            data_dir = Path(tempfile.mkdtemp(prefix="chat-demo-"))
            os.environ["CHAT_DATA_DIR"] = str(data_dir)  # tokens are signed with this data dir's secret
            reason = "As asked" if args.start else f"No services answer at {args.app_url}"
            print(f"{reason}: starting both with scripts/dev.py (data in {data_dir})...", flush=True)
            with _own_services(data_dir) as (app_url, inference_url):
                print(f"Started app-api at {app_url} and inference-api at {inference_url}")
                run(app_url, inference_url, own_services=True)
    except StepFailedError as exc:
        print(f"\n{_style('1;31', 'DEMO FAILED')}: {exc}", file=sys.stderr)
        return 1
    finally:
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)
    print(f"\n{_style('1;32', 'Demo complete')} in {time.monotonic() - started:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
