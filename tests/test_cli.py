import subprocess
import sys

from PIL import Image

from stickgen_core.cli import main
from stickgen_core.io import load_dataset


def test_generate_render_validate(tmp_path, capsys):
    out = tmp_path / "synth.pt"
    assert main(["generate-data", "--num-samples", "12", "--output", str(out), "--defect-rate", "0.5", "--seed", "3"]) == 0
    ds = load_dataset(out)
    assert len(ds) == 12
    assert sum(bool(s["meta"]["injected_defects"]) for s in ds) > 0
    gif = tmp_path / "c.gif"
    assert main(["render", str(out), "--index", "3", "--gif", str(gif), "--sheet", str(tmp_path / "s.png")]) == 0
    with Image.open(gif) as im:
        assert im.n_frames == len(ds[3]["motion"])
    assert main(["validate", str(out)]) == 0
    assert "12 valid clip(s)" in capsys.readouterr().out


def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    assert main(["render", str(tmp_path / "missing.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "missing.pt" in err and "Traceback" not in err
    out = tmp_path / "one.pt"
    main(["generate-data", "--num-samples", "1", "--output", str(out)])
    assert main(["render", str(out), "--index", "5"]) == 2
    assert "--index 5 is out of range" in capsys.readouterr().err
    assert main(["generate-data", "--num-samples", "1", "--output", str(out), "--defect-rate", "3"]) == 2
    assert "defect_rate" in capsys.readouterr().err


def test_console_script_is_installed():
    proc = subprocess.run([sys.executable, "-m", "stickgen_core.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "generate-data" in proc.stdout


def test_demo_workspace_is_built_once(tmp_path, capsys):
    ws = tmp_path / "ws"
    assert main(["demo", "--workspace", str(ws), "--num-samples", "60"]) == 0
    data = ws / "datasets" / "demo_synth.pt"
    assert len(load_dataset(data)) == 60
    assert len(list((ws / "previews").glob("*.gif"))) >= 8
    stamp = data.stat().st_mtime_ns
    assert main(["demo", "--workspace", str(ws), "--num-samples", "60"]) == 0
    assert data.stat().st_mtime_ns == stamp  # existing data is never regenerated


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    probe = code + "\nimport sys; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(out.split())


HEAVY = {"torch", "pandas", "sentence_transformers", "scipy"}


def test_building_the_cli_imports_no_heavy_library():
    loaded = _modules_after("import stickgen_core.cli as c; c.build_parser()")
    assert not HEAVY & loaded


def test_each_command_help_imports_no_torch():
    from stickgen_core.cli import build_parser
    import argparse

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert {"train", "curate", "generate", "critic"} <= set(sub.choices)
    for name in sub.choices:
        loaded = _modules_after(f"from stickgen_core.cli import main\ntry: main([{name!r}, '--help'])\n"
                                "except SystemExit: pass")
        assert "torch" not in loaded, name
