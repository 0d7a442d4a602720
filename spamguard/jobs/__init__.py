"""Work outside the request: the RQ retrain queue, the `worker` command and the maintenance loop."""

from .maintenance import Maintenance
from .queue import QUEUE_NAME, RETRAIN_JOB, JobQueue, queue_connection, queue_url

__all__ = ["QUEUE_NAME", "RETRAIN_JOB", "JobQueue", "Maintenance", "queue_connection", "queue_url"]
