"""KIT-ML, AIST++, NTU RGB+D and 100STYLE layouts, generated here: each converts with its labels to a
figure of human height standing on y = 0, passes validate, and bad files fail in one line naming
the file. Multi-actor NTU clips go through curation, the critic and the renderer."""

import os
import pickle

import numpy as np
import pytest

from stickgen_core.annotate import annotate_samples
from stickgen_core.cli import main as cli_main
from stickgen_core.convert import FORMATS, convert_file, detect_format, import_paths
from stickgen_core.convert.ntu import NTU_ACTIONS, ntu_labels
from stickgen_core.convert.safe_pickle import load_numpy_pickle
from stickgen_core.critic import SafetyCritic
from stickgen_core.curation import CurationConfig, apply_thresholds
from stickgen_core.errors import DatasetError, UnsafeFileError
from stickgen_core.render import contact_sheet, view_framing
from stickgen_core.schema import ACTION_INDEX, validate_sample

from .dataset_layouts import walk_3d, write_aist, write_kitml, write_ntu, write_positions_bvh


def _toward(seconds: float, fps: float, x0: float, seed: int) -> np.ndarray:
    """A walk along -x starting at ``x0`` (the second person of a two-person clip)."""
    J = walk_3d(seconds, fps, seed=seed)
    J[..., 0] = x0 - J[..., 0]
    J[..., 2] *= -1  # turned round: its left is on the other side
    return J


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("layouts")
    return {
        "kitml": write_kitml(root / "KIT-ML", "00042", walk_3d(4.0, 12.5), "a person walks forward slowly"),
        "aist": write_aist(root / "aist", "gBR_sBM_cAll_d04_mBR0_ch01", walk_3d(4.0, 60.0), legacy_numpy=True),
        "ntu": write_ntu(root / "ntu" / "S001C002P003R001A059.skeleton",
                         [walk_3d(4.0, 30.0), _toward(4.0, 30.0, 4.0, seed=1)], noise_frames=8),
        "100style": write_positions_bvh(root / "100STYLE" / "Angry" / "Angry_BR.bvh", walk_3d(4.0, 60.0, speed=1.4), 60.0),
    }


EXPECT = {  # format -> (description, action, style, shape after T)
    "kitml": ("a person walks forward slowly", "walk", None, (48,)),
    "aist": ("a person dances in the break style", "dance", "break", (48,)),
    "ntu": ("two people: walking towards each other", "walk", None, (2, 48)),
    "100style": ("a person runs backward in an angry way", "run", "angry", (48,)),
}


@pytest.mark.parametrize("fmt", list(EXPECT))
def test_each_layout_converts_with_its_labels_standing_on_the_floor(layouts, fmt):
    desc, action, style, shape = EXPECT[fmt]
    (s,) = convert_file(layouts[fmt], fmt, target_height=None)  # the file's own size: proves its units
    assert validate_sample(s) == []
    assert s["description"] == desc and tuple(s["motion"].shape[1:]) == shape
    assert (s["actions"] == ACTION_INDEX[action]).all() and s["meta"].get("style") == style
    assert 1.5 <= s["meta"]["found_height_m"] <= 1.9
    t = annotate_samples([s])
    assert t.valid[0] and abs(t.ground_y[0]) <= 0.02 and t.fps[0] == 25
    assert 1.5 <= t.figure_height[0] / 0.93 <= 1.9
    assert apply_thresholds(t, CurationConfig()).pretrain[0]  # survives curation
    verdict = SafetyCritic().evaluate(s["motion"], s["physics"], fps=25)
    assert verdict.is_safe, verdict.to_dict()


def test_layout_metadata(layouts):
    kit = convert_file(layouts["kitml"], "kitml")[0]["meta"]
    assert (kit["units"], kit["source_fps"], kit["captions"]) == ("mm", 12.5, ["a person walks forward slowly", "someone moves"])
    aist = convert_file(layouts["aist"], "aist")[0]["meta"]
    assert (aist["units"], aist["source_fps"], aist["keypoints_key"]) == ("cm", 60.0, "keypoints3d_optim")
    assert aist["labels"]["dancer"] == "04" and aist["labels"]["situation"] == "basic"
    ntu = convert_file(layouts["ntu"], "ntu")[0]["meta"]
    assert (ntu["units"], ntu["num_actors"], ntu["bodies_found"], len(ntu["bodies_kept"])) == ("m", 2, 3, 2)
    assert ntu["labels"]["performer"] == "003" and ntu["action_label"] == "walking towards each other"
    sty = convert_file(layouts["100style"], "100style")[0]["meta"]
    assert sty["labels"]["content"] == "BR" and sty["action_label"] == "backwards running"


def test_two_people_keep_their_places_and_approach(layouts):
    (s,) = convert_file(layouts["ntu"], "ntu")
    pelvis_x = s["motion"].numpy()[:, :, 10]  # lower_torso's end: the pelvis centre of each actor
    assert 3.0 < pelvis_x[0, 1] - pelvis_x[0, 0] < 5.0  # 4 m apart, actor 0 on the left
    assert pelvis_x[25, 1] - pelvis_x[25, 0] < pelvis_x[0, 1] - pelvis_x[0, 0] - 1.5  # closer after 1 s


def test_multi_actor_clips_pass_curation_the_critic_and_the_renderer(layouts):
    (s,) = convert_file(layouts["ntu"], "ntu")
    t = annotate_samples([s])
    assert t.actors[0] == 2 and apply_thresholds(t, CurationConfig()).pretrain[0]
    r = SafetyCritic().evaluate(s["motion"], s["physics"], fps=25)
    assert r.is_safe, r.to_dict()
    m = s["motion"].numpy()
    cx, _, _, width = view_framing(m, True, 160 / 200)  # a contact sheet's cell: both people in every frame
    xs = m[..., 0::2].reshape(len(m), -1)
    assert (xs.min(1) >= cx - width / 2).all() and (xs.max(1) <= cx + width / 2).all()
    img = contact_sheet(s["motion"], columns=4)
    assert img.size[0] > 0 and len(np.unique(np.asarray(img).reshape(-1, 3), axis=0)) > 2


def test_ntu_noise_bodies_single_bodies_and_gaps(tmp_path):
    J = walk_3d(3.0, 30.0)
    present = np.ones(len(J), bool)
    present[10:20] = False  # the sensor lost the person for a third of a second
    (one,) = convert_file(write_ntu(tmp_path / "S001C001P001R001A043.skeleton", [J], [present], noise_frames=20), "ntu")
    assert one["motion"].shape[1:] == (48,) and (one["actions"] == ACTION_INDEX["fall"]).all()
    assert one["meta"]["bodies_found"] == 2 and len(one["meta"]["bodies_kept"]) == 1
    assert validate_sample(one) == []
    present[:] = False
    present[:5] = True  # seen for 5 of 90 frames: too little to fill in
    f = write_ntu(tmp_path / "S001C001P001R001A001.skeleton", [J], [present])
    with pytest.raises(DatasetError, match=r"A001\.skeleton: 94% of the frames have no usable joints"):
        convert_file(f, "ntu")


def test_ntu_action_codes_map_to_our_vocabulary(tmp_path):
    assert len(NTU_ACTIONS) == 120
    want = {1: "drinking", 8: "sit", 9: "stand_up", 23: "wave", 27: "jump", 43: "fall", 50: "punch",
            55: "hug", 58: "handshake", 28: "unknown", 110: "fight", 112: "high_five", 80: "crouch"}
    for code, action in want.items():
        assert ntu_labels(tmp_path / f"S001C001P001R001A{code:03d}.skeleton").action == action, code
    lab = ntu_labels(tmp_path / "S001C001P001R001A028.skeleton")
    assert lab.label == "make a phone call/answer phone"  # unknown keeps the class name
    with pytest.raises(DatasetError, match=r"A121\.skeleton: action code A121 is not an NTU"):
        ntu_labels(tmp_path / "S001C001P001R001A121.skeleton")


def _cut(path, keep_lines):
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:keep_lines]) + "\n")
    return path


def test_bad_files_fail_in_one_line_naming_the_file(layouts, tmp_path):
    np.save(tmp_path / "bad_kit.npy", np.zeros((10, 22, 3)))
    (tmp_path / "bad.pkl").write_bytes(b"\x80\x04not a pickle")
    ntu = _cut(write_ntu(tmp_path / "S001C001P001R001A001.skeleton", [walk_3d(1.0, 30.0)]), 40)
    (tmp_path / "Angry.bvh").write_text(layouts["100style"].read_text())
    word = tmp_path / "S001C001P001R001A002.skeleton"
    word.write_text("3\n1\n72057594037931101 0 1 1 1 1 0 0 0 2\ntwenty-five\n")
    cases = [("kitml", tmp_path / "bad_kit.npy", r"expected KIT-ML joints of shape \[T, 21, 3\], got \[10, 22, 3\]"),
             ("aist", tmp_path / "bad.pkl", r"not a readable pickle"),
             ("ntu", ntu, r"line 41: file ends where a joint line was expected"),
             ("ntu", word, r"line 4: expected frame 0's joint count \(a whole number\)"),
             ("100style", tmp_path / "Angry.bvh", r"expected a 100STYLE name <Style>_<Content>\.bvh")]
    for fmt, path, message in cases:
        with pytest.raises(DatasetError, match=message) as exc:
            convert_file(path, fmt)
        assert str(path) in str(exc.value) and "\n" not in str(exc.value), fmt


def test_aist_pickles_admit_numpy_arrays_only(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "gBR_sBM_cAll_d04_mBR0_ch01.pkl"
    evil.write_bytes(pickle.dumps({"keypoints3d": Payload()}))
    with pytest.raises(UnsafeFileError, match=r"ch01\.pkl: refused: the pickle asks for (posix|os|nt)\.system"):
        convert_file(evil, "aist")
    assert not marker.exists()
    obj = tmp_path / "obj.pkl"
    obj.write_bytes(pickle.dumps({"keypoints3d": np.array([1, "x"], dtype=object)}))
    with pytest.raises(UnsafeFileError, match=r"obj\.pkl: refused: the pickle holds an object array"):
        load_numpy_pickle(obj)
    from numpy._core.multiarray import _reconstruct

    class Huge:  # numpy's own globals asked for 1 TiB
        def __init__(self, call):
            self.call = call

        def __reduce__(self):
            return self.call

    for call, message in (((np.ndarray, ((1 << 40,), "u1")), r"calls numpy\.ndarray directly"),
                          ((_reconstruct, (np.ndarray, (1 << 40,), b"b")), r"an array of 1,099,511,627,776 bytes")):
        bomb = tmp_path / "bomb.pkl"
        bomb.write_bytes(pickle.dumps({"keypoints3d": Huge(call)}, protocol=2))
        with pytest.raises(UnsafeFileError, match=r"bomb\.pkl: refused: .*" + message):
            load_numpy_pickle(bomb)
    for proto in (2, 4, 5):  # what numpy writes under each protocol loads
        ok = tmp_path / f"ok{proto}.pkl"
        ok.write_bytes(pickle.dumps({"keypoints3d": np.ones((2, 17, 3)), "loss": np.float32(1)}, protocol=proto))
        assert load_numpy_pickle(ok)["keypoints3d"].shape == (2, 17, 3)


def test_folders_are_detected_and_imported(layouts, tmp_path):
    kit_root = layouts["kitml"].parent.parent
    assert detect_format(kit_root) == "kitml" and detect_format(layouts["kitml"]) == "kitml"
    assert detect_format(layouts["aist"].parent.parent) == "aist" and detect_format(layouts["aist"].parent) == "aist"
    assert detect_format(layouts["ntu"]) == "ntu" and detect_format(layouts["ntu"].parent) == "ntu"
    (hml := tmp_path / "hml" / "new_joints").mkdir(parents=True)
    np.save(hml / "1.npy", np.zeros((5, 22, 3)))
    assert detect_format(hml.parent) == "humanml3d"
    res = import_paths([kit_root, layouts["aist"].parent.parent, layouts["ntu"]], tmp_path / "cache")
    assert len(res.samples_files) == 3 and res.problems == []
    assert import_paths([layouts["ntu"]], tmp_path / "cache").samples_files == res.samples_files[2:]  # cached
    sidecar = layouts["ntu"].with_suffix(".json")
    sidecar.write_text('{"description": "two friends meet"}')
    try:  # an edited sidecar is a new conversion, not the cached one
        again = import_paths([layouts["ntu"]], tmp_path / "cache").samples_files
        assert again != res.samples_files[2:]
        import torch
        assert torch.load(again[0], weights_only=True)[0]["description"] == "two friends meet"
    finally:
        sidecar.unlink()


def test_cli_converts_each_layout_and_validate_accepts_it(layouts, tmp_path, capsys):
    from stickgen_core.cli.convert import FORMAT_CHOICES
    assert set(FORMAT_CHOICES) == set(FORMATS)
    for fmt, path in layouts.items():
        src = path.parent.parent if fmt in ("kitml", "aist") else path.parent
        out = tmp_path / f"{fmt}.pt"
        assert cli_main(["convert", str(src), "--format", fmt, "--out", str(out)]) == 0
        assert cli_main(["validate", str(out)]) == 0
        assert "1 valid clip(s) in 1 file(s); 0 invalid" in capsys.readouterr().out
    out = tmp_path / "named.pt"
    assert cli_main(["convert", str(layouts["100style"]), "--format", "100style", "--out", str(out),
                     "--describe", "{style} style: a person {verb}"]) == 0
    import torch
    assert torch.load(out, weights_only=True)[0]["description"] == "angry style: a person runs backward"


def test_a_dataset_folder_converts_its_good_files_and_lists_the_bad(tmp_path, capsys):
    folder = tmp_path / "nturgbd_skeletons"
    for k in (1, 2):
        write_ntu(folder / f"S001C001P00{k}R001A023.skeleton", [walk_3d(2.0, 30.0, seed=k)])
    _cut(write_ntu(folder / "S001C001P003R001A023.skeleton", [walk_3d(2.0, 30.0)]), 30)
    out = tmp_path / "ntu.pt"
    assert cli_main(["convert", str(folder), "--format", "ntu", "--out", str(out)]) == 0
    errors = (tmp_path / "ntu.errors.txt").read_text().splitlines()
    assert len(errors) == 1 and "P003R001A023.skeleton" in errors[0] and "line 31" in errors[0]
    import torch
    clips = torch.load(out, weights_only=True)
    assert len(clips) == 2 and all(c["description"] == "a person: hand waving" for c in clips)
    assert "wrote 2 clip(s) from 2 of 3 file(s)" in capsys.readouterr().out
