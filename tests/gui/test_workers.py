import time

from stickgen_studio.workers import Task


def test_task_reports_progress_and_result(qtbot):
    def work(n, progress=None):
        for i in range(n):
            progress(i + 1, n)
        return n * 2

    task = Task(work, 5)
    seen = []
    task.progress.connect(lambda d, t: seen.append(d))
    with qtbot.waitSignal(task.finished) as blocker:
        task.start()
    assert blocker.args == [10] and seen[-1] == 5
    qtbot.waitUntil(lambda: not task.is_running())


def test_task_can_be_cancelled(qtbot):
    def slow(should_stop=None):
        while not should_stop():
            time.sleep(0.01)
        raise InterruptedError

    task = Task(slow)
    task.start()
    with qtbot.waitSignal(task.cancelled, timeout=5000):
        task.cancel()
    qtbot.waitUntil(lambda: not task.is_running())


def test_failures_become_messages_not_crashes(qtbot):
    task = Task(lambda: 1 / 0)
    with qtbot.waitSignal(task.failed) as blocker:
        task.start()
    assert "ZeroDivisionError" in blocker.args[0]
    qtbot.waitUntil(lambda: not task.is_running())


def test_the_outcome_arrives_once_the_thread_has_stopped_and_ended_follows_at_once(qtbot):
    task = Task(lambda: 7)
    seen = []
    task.finished.connect(lambda r: seen.append(("finished", r, task.is_running())))
    task.ended.connect(lambda: seen.append(("ended",)))
    with qtbot.waitSignal(task.finished):
        task.start()
    # one event: whoever hears ``finished`` already finds the task over (no second event to wait for)
    assert seen == [("finished", 7, False), ("ended",)]
