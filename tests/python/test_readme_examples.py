"""The coordination patterns of README.md run as written (each block marked `<!-- example: name -->`),
against the session's server on its port, each on an empty keyspace."""

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"<!-- example: (\w+) -->\n```python\n(.*?)```", re.S)
EXAMPLES = BLOCK.findall(README.read_text())


def test_the_readme_has_its_examples():
    names = [n for n, _ in EXAMPLES]
    assert names == ["fencing", "election", "discovery", "config", "cache", "counter"]


@pytest.mark.skipif(os.environ.get("CONCORD_TARGET") == "redis", reason="Concord's own commands")
@pytest.mark.parametrize("name,code", EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_readme_example_runs(srv, r, name, code):
    assert "port=6379" in code
    code = code.replace("port=6379", f"port={srv.port}")
    exec(compile(code, f"README.md:{name}", "exec"), {"__name__": f"readme_{name}"})
