import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py


@pytest.fixture(scope="session")
def digits():
    """(train, test) of scikit-learn's 8x8 digits, loaded once per session."""
    from condensed_data.data import load_dataset

    return load_dataset("digits", "train"), load_dataset("digits", "test")


@pytest.fixture(scope="module")
def single_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a busy 2-core machine threads make them 10x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def servers(tmp_path_factory):
    """The loopback Hub: olah (downloads) and the fake Hub's write API (uploads), for the whole session."""
    from helpers import unavailable
    from hub_servers import FakeHub, start_olah

    if shutil.which("git") is None:
        unavailable("git is not installed: olah serves git repositories and the fake Hub writes commits with it")
    olah, reason = start_olah(tmp_path_factory.mktemp("hub"))
    if olah is None:
        unavailable(f"the loopback Hub (olah) could not start: {reason}")
    fake = FakeHub(olah.mirrors)
    yield SimpleNamespace(olah=olah.url, fake=fake, mirrors=olah.mirrors)
    fake.stop()
    olah.stop()
