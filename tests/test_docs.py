"""The Python examples in docs/api.md run as they are, each in a scratch home
and working folder (they may write files there), and print what their
`# → …` comments say."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_the_doc_has_examples():
    assert len(EXAMPLES) >= 7


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example-{i + 1}" for i in range(len(EXAMPLES))])
def test_api_doc_example_runs(code, tmp_path):
    (tmp_path / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALFORGE_")}
    env.update(HOME=str(tmp_path / "home"), NO_COLOR="1")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # Where a comment says `# → X`, the example prints X (run ids vary).
    for line in code.splitlines():
        said = re.search(r"#\s+→\s+(\S+)", line)
        if said and not re.match(r"\d{8}-\d{6}", said.group(1)):
            assert said.group(1).rstrip(":") in proc.stdout, (line, proc.stdout)
