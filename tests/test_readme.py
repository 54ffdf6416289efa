"""The README and the guides stay true: the plugin guide's example passes the contract, the README's make targets
exist, and its loading example runs (the benchmark tables and figures are checked against the committed results in
test_benchmark_tables.py; the documentation site builds in test_docs.py)."""

import re
from pathlib import Path

from helpers import make_artifact

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PLUGIN_GUIDE = (ROOT / "docs" / "guides" / "plugins.md").read_text()


def test_plugin_example_passes_the_contract_test(tmp_path, monkeypatch):
    code = re.search(r"```python\n# my_plugin.py\n(.*?)```", PLUGIN_GUIDE, re.S).group(1)
    (tmp_path / "my_plugin.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    from my_plugin import MeanVar

    from condensed_data.testing import check_method

    check_method(MeanVar, options={"batch_real": 8})


def test_readme_commands_exist_in_the_makefile():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test"):
        assert f"`make {target}`" in README and re.search(rf"^{target}:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_loading_example_runs(tmp_path, monkeypatch):
    """The README's first example, on a small set written where it looks (out/fashion-mnist-dm-ipc10)."""
    make_artifact(tmp_path / "out" / "fashion-mnist-dm-ipc10", classes=10, ipc=1, shape=(1, 28, 28))
    code = re.search(r"```python\n(import torch\nfrom condensed_data import CondensedDataset\n.*?)```", README, re.S)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code.group(1), "README.md", "exec"), scope)
    assert len(scope["ds"]) == 10 and tuple(scope["image"].shape) == (1, 28, 28)
    assert isinstance(scope["label"], int) and scope["ds"].recipe.mean
