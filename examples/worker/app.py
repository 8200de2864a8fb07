"""The broker the ``taskiq worker`` command loads, configured from the environment.

    cd examples
    SMSCLUB_TOKEN=... SMSCLUB_WORKER_REDIS=redis://127.0.0.1:6379/0 \\
        taskiq worker worker.app:broker --workers 4 --max-async-tasks 2

Producers import the same module to enqueue (see README.md).
"""

from .tasks import create_broker

broker = create_broker()
