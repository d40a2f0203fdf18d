import time


def wait_for(predicate, what, timeout=300.0, poll=0.2):
    """Poll until ``predicate()`` is truthy; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(poll)
