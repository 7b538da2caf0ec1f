"""Dynamic batching: requests to one model queue, and a worker runs them together in one predict call.

The worker (one asyncio task per model) takes the oldest waiting request, then keeps taking
requests with the same key (same parameters, same kind of input) until their estimated
tokens would pass ``max_batch_tokens`` or ``max_wait_ms`` have passed since the first; it
runs ONE ``predict`` over all their inputs in the model's own thread (the event loop keeps
serving), and hands each request its slice of the results. While a batch runs, new requests
queue, so under load batches grow by themselves; ``max_wait_ms`` only matters when the
model is idle. After a batch of one, a request that finds nobody else waiting runs at once:
one client at a time gets no added latency (measured: p50 16.7 -> 14.1 ms, one MiniLM tweet).

One thread per model: ``predict`` of one model is never entered twice at once (tasks keep
per-call state, e.g. the NER alignment counters), and a request that timed out is dropped
before its batch starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tasuki.errors import TasukiError
from tasuki.serve.metrics import ServeMetrics
from tasuki.serve.models import Checked, RequestError, ServedModel

logger = logging.getLogger(__name__)


@dataclass
class Job:
    """One request waiting for its results."""

    request: Checked
    future: asyncio.Future
    started: bool = False
    """Taken into a batch (or given up): no longer counted as waiting."""


class Batcher:
    """The queue and the worker of one model."""

    def __init__(self, served: ServedModel, metrics: ServeMetrics) -> None:
        self.served = served
        self.settings = served.settings
        self.metrics = metrics
        self._queue: asyncio.Queue[Job] | None = None
        self._held: deque[Job] = deque()  # taken from the queue but kept for a later batch (another key)
        self._waiting = 0  # requests submitted and not yet started: bounded by max_queue
        self._last_size = 0  # requests in the last batch: 1 means light load, where a lone request need not wait
        self._worker: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"tasuki-serve-{served.name}")

    # --- the request side ----------------------------------------------------------------

    async def submit(self, request: Checked) -> Any:
        """Queue a checked request and wait for its results (one result for a single input)."""
        self._ensure_worker()
        if self._waiting >= self.settings.max_queue:
            raise RequestError(503, f"model {self.served.name!r} has {self._waiting} requests waiting (the limit); "
                               "retry shortly", headers={"Retry-After": "1"})
        job = Job(request, asyncio.get_running_loop().create_future())
        self._waiting += 1
        self._gauge()
        assert self._queue is not None
        self._queue.put_nowait(job)
        try:
            results = await asyncio.wait_for(job.future, self.settings.request_timeout_s)
        except asyncio.TimeoutError:
            raise RequestError(504, f"no result within {self.settings.request_timeout_s:g} s (request_timeout_s); "
                               "the server is busy or the input is very long") from None
        finally:
            if job.future.cancelled():
                self._started(job)  # timed out or abandoned: it will never start, stop counting it
        return results[0] if request.single else results

    def _ensure_worker(self) -> None:
        # Started on first use in the running loop, so that the app works with or without lifespan
        # events; a new loop (a test client's) gets a new queue and worker.
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.done() or self._worker.get_loop() is not loop:
            self._queue, self._held, self._waiting = asyncio.Queue(), deque(), 0
            self._worker = loop.create_task(self._work(), name=f"batcher-{self.served.name}")

    def _started(self, job: Job) -> None:
        if not job.started:
            job.started = True
            self._waiting -= 1
            self._gauge()

    def _gauge(self) -> None:
        self.metrics.queue_depth.labels(self.served.name).set(self._waiting)

    # --- the worker side -----------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            batch = await self._collect()
            if batch:
                await self._run(batch)

    async def _collect(self) -> list[Job]:
        """The next batch: the oldest live request, then more of its key within the token budget and wait."""
        assert self._queue is not None
        first = self._held.popleft() if self._held else await self._queue.get()
        if first.future.done():  # timed out while waiting
            return []
        batch, tokens = [first], first.request.tokens
        budget, key = self.settings.max_batch_tokens, first.request.key
        for job in list(self._held):  # held requests are older than anything in the queue
            if job.request.key == key and not job.future.done() and tokens + job.request.tokens <= budget:
                self._held.remove(job)
                batch.append(job)
                tokens += job.request.tokens
        wait = self.settings.max_wait_ms / 1000
        if self._last_size == 1 and len(batch) == 1 and self._queue.empty():
            wait = 0.0  # light load (the last batch ran alone, nobody else waits): waiting only adds latency
        deadline = time.perf_counter() + wait
        while tokens < budget:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), left)
                except asyncio.TimeoutError:
                    break
            if job.future.done():
                continue
            if job.request.key != key:
                self._held.append(job)
            elif tokens + job.request.tokens > budget:
                self._held.appendleft(job)  # first of the next batch
                break
            else:
                batch.append(job)
                tokens += job.request.tokens
        batch = [job for job in batch if not job.future.done()]
        self._last_size = len(batch)
        return batch

    async def _run(self, batch: list[Job]) -> None:
        for job in batch:
            self._started(job)
        loop = asyncio.get_running_loop()
        items = [item for job in batch for item in job.request.items]
        parameters = batch[0].request.parameters
        started = time.perf_counter()
        try:
            results = await loop.run_in_executor(self._executor, self.served.run, items, parameters)
        except RequestError as exc:  # a parameter the task refused: every request of the batch sent it
            self._fail(batch, exc)
            return
        except TasukiError as exc:
            # Bad input the door could not see (the task's own checks): find whose, and answer only them.
            if len(batch) > 1:
                for job in batch:
                    await self._run([job])
                return
            self._fail(batch, RequestError(422, f"inputs: {exc}", "inputs"))
            return
        except Exception as exc:  # a bug or a broken model: this batch fails, the server goes on
            logger.exception("predict failed for model %r (%d requests)", self.served.name, len(batch))
            self._fail(batch, RequestError(500, f"prediction failed: {type(exc).__name__}: {exc}"))
            return
        finally:
            self.metrics.batch_seconds.labels(self.served.name).observe(time.perf_counter() - started)
        self.metrics.batch_requests.labels(self.served.name).observe(len(batch))
        self.metrics.batch_inputs.labels(self.served.name).observe(len(items))
        if len(results) != len(items):  # a task that loses inputs must not shift answers between requests
            self._fail(batch, RequestError(500, f"predict returned {len(results)} results for {len(items)} inputs"))
            return
        offset = 0
        for job in batch:
            n = len(job.request.items)
            if not job.future.done():
                job.future.set_result(results[offset:offset + n])
            offset += n

    def _fail(self, batch: list[Job], error: RequestError) -> None:
        for job in batch:
            if not job.future.done():
                job.future.set_exception(error)

    # --- lifecycle -----------------------------------------------------------------------

    @property
    def waiting(self) -> int:
        """Requests queued and not yet started."""
        return self._waiting

    async def close(self) -> None:
        """Stop the worker (after the server has drained its requests) and the thread."""
        if self._worker is not None:
            self._worker.cancel()
            if self._worker.get_loop() is asyncio.get_running_loop():
                with contextlib.suppress(asyncio.CancelledError):
                    await self._worker
        self._executor.shutdown(wait=True)
