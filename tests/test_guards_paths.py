"""Path containment: a sibling folder whose name starts like ours (``/out`` vs ``/out2``) and a
symlink that leads out are outside, whatever a string-prefix comparison would say."""

from __future__ import annotations

import os

import pytest

from stickgen_core.errors import DatasetError
from stickgen_core.paths import inside


@pytest.fixture
def tree(tmp_path):
    base = tmp_path / "out"
    (base / "motions").mkdir(parents=True)
    (tmp_path / "out2").mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", base / "link_out")
    os.symlink(base / "motions", base / "link_in")
    return base


@pytest.mark.parametrize("parts", [("..", "out2", "a.pt"), ("../out2/a.pt",), ("link_out", "a.pt"),
                                   ("link_out",), ("..",), ("/tmp/a.pt",), ("motions", "..", "..", "out2")])
def test_inside_refuses_siblings_symlinks_out_and_absolute_paths(tree, parts):
    with pytest.raises(DatasetError, match="resolves outside"):
        inside(tree, *parts)


@pytest.mark.parametrize("parts", [("motions", "a.pt"), ("link_in", "a.pt"), ("motions", "..", "b.pt"), ("new", "c.pt")])
def test_inside_accepts_what_stays_inside_symlinks_included(tree, parts):
    assert inside(tree, *parts) == tree.joinpath(*parts)


def test_inside_a_folder_given_through_a_symlink(tree, tmp_path):
    """The folder itself may be a symlink: what resolves into its target is inside."""
    alias = tmp_path / "alias"
    os.symlink(tree, alias)
    assert inside(alias, "motions", "a.pt") == alias / "motions" / "a.pt"
    with pytest.raises(DatasetError):
        inside(alias, "..", "out2", "a.pt")
