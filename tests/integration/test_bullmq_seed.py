"""The source text's two JavaScript examples run for real with the bullmq package on Redis."""

import asyncio
import uuid

import pytest


@pytest.mark.redis
def test_seed_worker_and_queue_events_on_real_bullmq(redis_url):
    """bullmq's Worker pulls three jobs and its QueueEvents pushes three 'completed' events."""
    bullmq = pytest.importorskip("bullmq", reason="bullmq is a runtime dependency: pip install -e .")
    name = f"video-processing-{uuid.uuid4().hex[:8]}"

    async def main():
        connection = {"connection": redis_url}
        queue = bullmq.Queue(name, connection)
        processed, heard, all_heard = [], [], asyncio.Event()

        async def process(job, token):  # the seed's pull example
            processed.append(job.id)
            return {"frames": 240}

        worker = bullmq.Worker(name, process, connection)
        events = bullmq.QueueEvents(name, {**connection, "lastEventId": "0"})

        def on_completed(event, event_id):  # the seed's push example
            heard.append(event["jobId"])
            if len(heard) == 3:
                all_heard.set()

        events.on("completed", on_completed)
        try:
            jobs = [await queue.add("transcode", {"file": f}) for f in ("intro.mp4", "talk.mp4", "outro.mp4")]
            await asyncio.wait_for(all_heard.wait(), timeout=20)
            counts = await queue.getJobCounts("completed", "failed")
        finally:
            await worker.close()
            await events.close()
            await queue.obliterate(force=True)
            await queue.close()
        return [j.id for j in jobs], processed, heard, counts

    ids, processed, heard, counts = asyncio.run(main())
    assert sorted(processed) == sorted(ids) and sorted(heard) == sorted(ids)
    assert counts == {"completed": 3, "failed": 0}
