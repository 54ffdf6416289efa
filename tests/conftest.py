import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py


@pytest.fixture(scope="session")
def digits():
    """(train, test) of scikit-learn's 8x8 digits, loaded once per session."""
    from condensed_data.data import load_dataset

    return load_dataset("digits", "train"), load_dataset("digits", "test")
