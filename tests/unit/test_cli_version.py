"""``genesis --version``: the version and whether the hot modules run compiled, on one line."""

from __future__ import annotations

import pytest

from genesis import __version__, native
from genesis.__main__ import main


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_names_the_release_and_the_native_state(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([flag]) == 0
    out = capsys.readouterr().out
    assert out == f"genesis {__version__} ({native.state()})\n"
    assert out.count("\n") == 1
