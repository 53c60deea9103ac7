"""Every log line written inside a task names the task, its id and, when it has one, its job."""
from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from core import jobs
from core.logs import FORMAT, TaskContext
from tests import sample_tasks


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the root logger writes, in the format every process uses."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(TaskContext())
    logging.getLogger().addHandler(handler)
    yield stream
    logging.getLogger().removeHandler(handler)


def test_a_line_written_in_a_task_carries_task_and_job_ids(worker: Any,
                                                           log_lines: io.StringIO) -> None:
    job_id = jobs.create_job("tests")
    result = sample_tasks.logs_a_line.delay("inside the job", job_id=job_id)
    result.get(timeout=20)
    sample_tasks.logs_a_line.delay("no job here").get(timeout=20)
    logging.getLogger("tests").warning("outside any task")

    lines = log_lines.getvalue().splitlines()
    with_job = next(line for line in lines if "inside the job" in line)
    assert with_job.endswith(f" task=tests.logs_a_line task_id={result.id} job_id={job_id}")
    without_job = next(line for line in lines if "no job here" in line)
    assert " task=tests.logs_a_line task_id=" in without_job and "job_id=" not in without_job
    outside = next(line for line in lines if "outside any task" in line)
    assert outside.endswith("outside any task")
