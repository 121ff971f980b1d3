"""`make run`: the whole Covenant stack on this machine.

1. a moto server on 127.0.0.1 (patched, see moto_patch.py), in this process;
2. every table, topic and queue from infra/'s template, through CloudFormation;
3. a fresh stamp-node key in the git-ignored state folder, and the genesis block;
4. the API with `chalice local`;
5. the scheduled sealing and the operator sub-chains' queue consumers: Chalice
   local serves HTTP only, so this loop invokes the very same handler functions
   on an interval (``app.subchain_handler`` per sub-chain queue) and polls the
   queues, deleting what they processed. Each sub-chain has its own key in the
   state folder (``subchain-<i>.pem``), registered by the stamp node with a
   signed ``POST /subchains`` after genesis, and reads missing blocks and sends
   its cosignatures through the local API over HTTP, as on AWS.

Each run begins a fresh chain (moto keeps its state in memory). Ctrl-C stops
everything; the next run starts cleanly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "covenant-local"


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_for(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url} did not come up: the process exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # answering at all is enough
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def local_environment(moto_port: int, key_path: Path, replicas: int, api_port: int | None = None
                      ) -> dict[str, str]:
    state = key_path.parent
    subchains = {} if api_port is None else {
        # each operator sub-chain's own key, and the public API it reads and submits through
        "COVENANT_SUBCHAIN_KEY": f"file:{state}/subchain-{{i}}.pem",
        "COVENANT_API_URL": f"http://127.0.0.1:{api_port}",
    }
    return {
        **subchains,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "COVENANT_PREFIX": PREFIX,
        "COVENANT_REPLICAS": str(replicas),
        "COVENANT_SEALER_KEY": f"file:{key_path}",
        "POWERTOOLS_METRICS_NAMESPACE": "Covenant",
        "POWERTOOLS_SERVICE_NAME": "covenant",
    }


def scheduled_event() -> dict[str, Any]:
    """The EventBridge event a schedule delivers."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": "us-east-1", "resources": [], "detail": {}}


class Runner:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.stop = threading.Event()
        self.api: subprocess.Popen[bytes] | None = None
        self.moto: Any = None

    def say(self, text: str) -> None:
        print(f"[covenant] {text}", flush=True)

    def start(self) -> None:
        args = self.args
        for port, what in ((args.moto_port, "moto"), (args.api_port, "API")):
            if not _port_free(port):
                raise SystemExit(f"port {port} for the {what} server is in use; choose another "
                                 f"(make run MOTO_PORT=... API_PORT=...)")
        import logging

        from moto.server import ThreadedMotoServer

        from devstack import moto_patch

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # The runner's own sealing and replica logs; the API process logs at INFO.
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", args.log_level)

        moto_patch.apply()
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=args.moto_port, verbose=False)
        self.moto.start()
        _wait_for(f"http://127.0.0.1:{args.moto_port}/moto-api/", 20)
        self.say(f"moto server on http://127.0.0.1:{args.moto_port}")

        state = Path(args.state_dir).resolve()
        key_path = state / "sealer-key.pem"
        env = local_environment(args.moto_port, key_path, args.replicas, args.api_port)
        os.environ.update(env)

        from devstack.bootstrap import create_resources, start_chain, write_new_key

        stack = create_resources(PREFIX, args.replicas)
        env["COVENANT_BLOCKS_TOPIC_ARN"] = os.environ["COVENANT_BLOCKS_TOPIC_ARN"] = stack.topic_arn
        self.stack = stack
        self.say(f"created {args.replicas} replica queues, the block topic and every table from infra/")
        write_new_key(key_path)
        for i in range(args.replicas):  # each operator sub-chain's own key, used for nothing else
            write_new_key(state / f"subchain-{i}.pem")
        genesis = start_chain()
        self.say(f"genesis block {genesis.hash} sealed with a new key in {key_path}")
        (state / "genesis.json").write_text(json.dumps({"hash": genesis.hash}) + "\n")

        api_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.api = subprocess.Popen(
            [sys.executable, "-m", "devstack.local_api", "--host", "127.0.0.1", "--port", str(args.api_port),
             "--stage", "local", "--no-autoreload"],
            cwd=ROOT, env=api_env, start_new_session=True,
        )
        api = f"http://127.0.0.1:{args.api_port}"
        _wait_for(f"{api}/chain/head", 60, self.api)
        self.say(f"API on {api} (try /chain/head); Ctrl-C stops everything")
        ids = register_subchains(api, key_path, [state / f"subchain-{i}.pem" for i in range(args.replicas)])
        self.say(f"registered {len(ids)} operator sub-chains ({', '.join(ids)}), each with its own key in {state}; "
                 "they cosign once their registration is sealed (curl -s " + api + "/checkpoint)")
        self.say(f"run your own sub-chain: covenant --profile alice subchain run --api {api}  "
                 "(after `covenant --profile alice keys` and `... register consumer`)")

    def seal(self, app: Any) -> None:
        from chalice.local import LambdaContext

        event = scheduled_event()
        result = app.handler_map["seal_blocks"](event, LambdaContext("seal_blocks", 1024, max_runtime_ms=300_000))
        if result and result.get("blocks"):
            self.say(f"sealed blocks {result['blocks']} ({result['entries']} entries)")

    def tally(self, app: Any) -> None:
        from chalice.local import LambdaContext

        event = scheduled_event()
        result = app.handler_map["tally_votes"](event, LambdaContext("tally_votes", 1024, max_runtime_ms=60_000))
        for closed in (result or {}).get("closed", []):
            self.say(f"proposal {closed['proposal']} {closed['result']}")

    def poll_subchains(self, app: Any) -> None:
        import boto3
        from chalice.local import LambdaContext

        sqs = boto3.client("sqs")
        for url, arn in zip(self.stack.queue_urls, self.stack.queue_arns, strict=True):
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                continue
            records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                        "attributes": {}, "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""),
                        "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "us-east-1"}
                       for m in messages]
            try:
                # each sub-chain's own function on AWS; here COVENANT_SUBCHAIN is unset, so it serves any queue
                answer = app.subchain_handler({"Records": records}, LambdaContext("subchain", 1024, 60_000))
                failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
            except Exception as exc:  # the whole batch failed: every message is retried
                self.say(f"sub-chain batch failed and will be retried: {exc}")
                failed = {m["MessageId"] for m in messages}
            done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages) if m["MessageId"] not in failed]
            if done:
                sqs.delete_message_batch(QueueUrl=url, Entries=done)
            # Locally, retry a failed message after one interval rather than the
            # queue's visibility timeout (minutes, sized for Lambda on AWS).
            retry = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"],
                      "VisibilityTimeout": max(1, int(self.args.interval))}
                     for i, m in enumerate(messages) if m["MessageId"] in failed]
            if retry:
                sqs.change_message_visibility_batch(QueueUrl=url, Entries=retry)

    def loop(self) -> None:
        import app as chalice_app

        while not self.stop.is_set():
            started = time.monotonic()
            for step in (self.seal, self.poll_subchains, self.tally):
                try:
                    step(chalice_app if step == self.poll_subchains else chalice_app.app)
                except Exception as exc:
                    self.say(f"{step.__name__} failed and will run again: {exc}")
            if self.api is not None and self.api.poll() is not None:
                self.say(f"chalice local exited with {self.api.returncode}; stopping")
                break
            self.stop.wait(max(0.0, self.args.interval - (time.monotonic() - started)))

    def shutdown(self) -> None:
        if self.api is not None and self.api.poll() is None:
            os.killpg(self.api.pid, signal.SIGINT)
            try:
                self.api.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.api.pid, signal.SIGKILL)
                self.api.wait()
        if self.moto is not None:
            self.moto.stop()
        self.say("stopped")


def register_subchains(api: str, stamp_key: Path, keys: list[Path]) -> list[str]:
    """The stamp node registers each operator sub-chain: a ``POST /subchains`` it signs, as any node would."""
    import base64

    from chalicelib.client.cli import Api
    from chalicelib.ledger.keys import private_key_from_pem, raw_public

    stamp = private_key_from_pem(stamp_key.read_bytes())
    ids = []
    for path in keys:
        public = raw_public(private_key_from_pem(path.read_bytes()).public_key())
        status, answer = Api(api).post(None, "/subchains", {"public_key": base64.b64encode(public).decode()},
                                       key=stamp)
        if status != 201:
            raise RuntimeError(f"the stamp node could not register the sub-chain of {path}: {status} {answer}")
        ids.append(str(answer["subchain"]))
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the whole Covenant stack locally.")
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT", "5000")))
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("API_PORT", "8000")))
    parser.add_argument("--replicas", type=int, default=int(os.environ.get("COVENANT_REPLICAS", "3")))
    parser.add_argument("--interval", type=float, default=float(os.environ.get("SEAL_INTERVAL", "2")),
                        help="seconds between sealing runs and sub-chain polls")
    parser.add_argument("--log-level", default="WARNING", help="log level of the sealing and sub-chain handlers")
    parser.add_argument("--state-dir", default=os.environ.get("COVENANT_STATE_DIR", str(ROOT / ".state")))
    args = parser.parse_args(argv)
    runner = Runner(args)

    def interrupted(signum: int, frame: Any) -> None:
        runner.stop.set()

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        runner.start()
        runner.loop()
    finally:
        runner.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
