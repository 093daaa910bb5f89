"""Fixtures: every test module gets a fresh local cloud of its own; every test an empty account."""

from __future__ import annotations

import pytest

from support import TestCloud, create_role, start_cloud


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> TestCloud:
    test_cloud = start_cloud(tmp_path_factory.mktemp("home"))
    yield test_cloud
    test_cloud.stop()


@pytest.fixture
def aws(cloud: TestCloud) -> TestCloud:
    """The module's cloud, emptied: nothing of an earlier test is left."""
    cloud.reset()
    return cloud


@pytest.fixture
def lam(aws: TestCloud):
    return aws.client("lambda")


@pytest.fixture
def iam(aws: TestCloud):
    return aws.client("iam")


@pytest.fixture
def role(iam) -> str:
    """An execution role Lambda can assume, allowed to write logs."""
    return create_role(iam)
