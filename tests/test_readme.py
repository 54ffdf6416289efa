"""The README stays true: its plugin example passes the contract, and its make targets exist (its benchmark tables
and figures are checked against the committed results in test_benchmark_tables.py)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_plugin_example_passes_the_contract_test(tmp_path, monkeypatch):
    code = re.search(r"```python\n# my_plugin.py\n(.*?)```", README, re.S).group(1)
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
