"""The dashboard served to other people: text from files stays text, typed paths stay inside
the data roots (with no existence oracle), and each session's uploads are private, validated,
replaced, and deleted at session end or after the idle time limit.

The app's own modules for them (app/roots.py, app/uploads.py) are tested directly; the rest
through AppTest (the real Streamlit, in-process), as tests/test_app.py does.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import os
import re
import stat
import sys
import threading
import time
from pathlib import Path

import app_figures
import formats as F
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from rbt.checkpoint import save_checkpoint
from rbt.data import DataFormatError
from rbt.data.deap import EEG_CHANNELS
from rbt.model import RBTransformer, RBTransformerConfig
from rbt.model_card import ModelCard
from rbt.viz.prediction import probability_bar

HOME = str(Path(__file__).resolve().parent.parent / "app" / "Home.py")
if str(Path(HOME).parent) not in sys.path:  # the app's modules, as Streamlit imports them
    sys.path.insert(0, str(Path(HOME).parent))
from roots import configured_roots, is_loopback  # noqa: E402
from uploads import UploadStore, check_recording  # noqa: E402

MAX_MB = 200  # the shipped server.maxUploadSize
TRIAL = "views/1_One_trial.py"
IMAGE = "![x](http://attacker.example/p.png)"
LINK = "[click](http://attacker.example)"


@pytest.fixture(autouse=True)
def server(demo_valence, monkeypatch, tmp_path):
    """The demo cache, private upload and data folders per test, and the shipped config's
    loopback address (restored after a test that serves on a network address)."""
    _, folder = demo_valence
    monkeypatch.setenv("RBT_CACHE_DIR", str(folder))
    monkeypatch.delenv("RBT_DEMO_CHECKPOINT", raising=False)
    monkeypatch.delenv("RBT_DATA_ROOTS", raising=False)
    monkeypatch.delenv("RBT_UPLOAD_TTL", raising=False)
    monkeypatch.setenv("RBT_UPLOAD_DIR", str(tmp_path / "uploads"))
    before = st.get_option("server.address")
    st.config.set_option("server.address", "127.0.0.1")
    yield tmp_path
    st.config.set_option("server.address", before)


def app(page: str | None = TRIAL) -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=180).run()
    if page:
        at.switch_page(page).run()
    return at


def unescaped(markdown: str) -> str:
    """What is left of Markdown once every backslash-escaped character is taken out: any link,
    image or tag syntax here would be live in the browser."""
    return re.sub(r"\\.", "", markdown)


def assert_plain(value: str, *texts: str) -> None:
    """``texts`` are in the Markdown ``value`` escaped, and no link syntax survives: not even
    the bare URLs GFM would link (an invisible word joiner breaks them)."""
    for text in texts:
        escaped = re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", text)
        assert escaped in value.replace("\u2060", ""), (escaped, value)
    rest = unescaped(value)
    for syntax in ("![", "](", "<a", "<img", "http:"):
        assert syntax not in rest, (syntax, value)
    shown = re.sub(r"\\(.)", r"\1", value)
    assert "://" not in shown and "www." not in shown.lower(), value


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def messages(at: AppTest, kind: str = "error") -> list[str]:
    return [e.value for e in getattr(at, kind)]


def upload(at: AppTest, files) -> AppTest:
    at.selectbox(key="source").set_value("raw").run()
    at.file_uploader(key="upload").set_value(
        [(name, data, "application/octet-stream") for name, data in files]).run()
    return at


def fif_bytes(tmp_path, name="rec_raw.fif", **raw) -> bytes:
    return F.save_fif(F.make_raw(**raw), tmp_path / "made" / name).read_bytes()


def _checkpoint(folder: Path, class_names, **meta) -> Path:
    cfg = RBTransformerConfig(num_electrodes=32, embed_dim=16, depth=2, heads=2, head_dim=8,
                              mlp_hidden_dim=16, num_classes=len(class_names))
    bands = {"theta": [4, 8], "alpha": [8, 14], "beta": [14, 31], "gamma": [31, 49]}
    return save_checkpoint(RBTransformer(cfg), folder, ModelCard.from_dict(
                           {"ch_names": list(EEG_CHANNELS), "dataset": "demo",
                            "target": "valence", "task": "binary",
                            "class_names": list(class_names), "bands": bands, **meta}))


# --------------------------------------------------------------------------------------------
# library: roots and the upload store


def test_loopback_addresses():
    for address in ("127.0.0.1", "127.3.2.1", "localhost", "::1", "[::1]"):
        assert is_loopback(address), address
    for address in ("", None, "0.0.0.0", "::", "192.168.1.20", "lab.example.org"):
        assert not is_loopback(address), address


def test_roots_confine_paths_and_resolve_symlinks(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "deap").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.dat").write_bytes(b"x")
    (root / "escape").symlink_to(outside)
    (root / "deap" / "s01.dat").write_bytes(b"x")
    roots = configured_roots("0.0.0.0", {"RBT_DATA_ROOTS": f"{root}{os.pathsep}"})
    assert roots.folders == (root,)
    assert roots.confine(str(root / "deap" / "s01.dat")) == root / "deap" / "s01.dat"
    assert roots.confine(str(root / "missing.dat")) == root / "missing.dat"
    assert roots.confine(str(root / "escape" / "secret.dat")) is None  # a link out
    assert roots.confine(str(root / ".." / "outside" / "secret.dat")) is None
    assert roots.confine(str(outside / "secret.dat")) is None
    assert roots.confine(str(outside / "missing.dat")) is None
    assert roots.confine("relative/path") is None and roots.confine("") is None
    # defaults: any path on loopback, none on a network address; uploads never
    anywhere = configured_roots("127.0.0.1", {}, never=[root / "deap"])
    assert anywhere.any_path and anywhere.confine(str(outside)) == outside
    assert anywhere.confine(str(root / "deap" / "s01.dat")) is None
    assert configured_roots(None, {}).none
    assert configured_roots("0.0.0.0", {}).none
    assert configured_roots("127.0.0.1", {"RBT_DATA_ROOTS": ""}).none


def test_upload_store_is_private_validated_replaced_and_swept(tmp_path):
    store = UploadStore(tmp_path / "parent", ttl=60)
    assert store.root.parent == tmp_path / "parent" and store.root.name.startswith("rbt-")
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    a, b = store.session(), store.session()
    first = a.save([("a_raw.fif", fif_bytes(tmp_path))], MAX_MB, validate=check_recording)
    assert stat.S_IMODE(a.folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert store.holds(first) and not store.holds(tmp_path)
    second = a.save([("b_raw.fif", fif_bytes(tmp_path, "b_raw.fif"))], MAX_MB)
    assert second.is_file() and not first.exists()  # replaced, the old file deleted
    with pytest.raises(DataFormatError, match="broken.edf: MNE cannot read"):
        a.save([("broken.edf", b"0" * 300)], MAX_MB)
    # the broken file is not kept; the recording kept before stays
    assert [p.name for p in a.folder.rglob("*.*")] == ["b_raw.fif"] and a.main == second
    a.clear()
    assert not any(a.folder.rglob("*.*")) and a.main is None
    with pytest.raises(DataFormatError, match="broken.edf: MNE cannot read"):
        a.save([("broken.edf", b"0" * 300)], MAX_MB)
    assert not any(a.folder.rglob("*.*")) and a.main is None  # nothing kept
    b.save([("b_raw.fif", fif_bytes(tmp_path, "b_raw.fif"))], MAX_MB)
    assert a.folder != b.folder
    # idle past the TTL: swept at the next upload of any session
    old = time.time() - 120
    os.utime(b.folder, (old, old))
    a.save([("a_raw.fif", fif_bytes(tmp_path))], MAX_MB)
    assert not b.folder.exists() and b.expired and a.main.is_file()
    # a session's folder goes when its object is collected
    folder = a.folder
    del a
    gc.collect()
    assert not folder.exists()


def test_an_ended_sessions_folder_goes_even_while_its_state_is_referenced(tmp_path):
    # the server's registry, not garbage collection, decides: a thread or cache holding the
    # session's state must not keep its files
    store = UploadStore(tmp_path, ttl=60)
    kept = [store.session("alive"), store.session("gone"), store.session()]
    for uploads in kept:
        uploads.save([("x_raw.fif", fif_bytes(tmp_path))], MAX_MB)
    ended = {"gone"}
    assert store.remove_ended(ended.__contains__) == [kept[1].folder]
    assert not kept[1].folder.exists() and kept[1].expired
    assert kept[0].main.is_file() and kept[2].main.is_file()  # alive, and no owner known
    assert store.remove_ended(ended.__contains__) == []
    ended.add("alive")
    assert store.remove_ended(ended.__contains__) == [kept[0].folder]
    assert kept[2].main.is_file()


def test_brainvision_upload_may_name_only_its_own_files(tmp_path):
    store = UploadStore(tmp_path, ttl=60)
    uploads = store.session()
    secret = tmp_path / "secret.txt"
    secret.write_text("1,2,3\n")
    for target in ("../../secret.txt", str(secret), "absent.eeg"):
        header = (f"Brain Vision Data Exchange Header File Version 1.0\n[Common Infos]\n"
                  f"DataFile={target}\nMarkerFile=rec.vmrk\n").encode()
        with pytest.raises(DataFormatError, match="not one of the uploaded files") as err:
            uploads.save([("rec.vhdr", header), ("rec.vmrk", b"m")], MAX_MB)
        assert "1,2,3" not in str(err.value)  # the other file is never read
        assert not any(uploads.folder.rglob("*.*"))
        # which file the header names (its name only, never a path) and what was uploaded
        assert f"names {Path(target).name}, which is not one of the uploaded files " \
               "(rec.vhdr, rec.vmrk)" in str(err.value)
        assert str(tmp_path) not in str(err.value)


# --------------------------------------------------------------------------------------------
# text from files is text: Markdown and Plotly


def test_markdown_in_channel_names_and_file_names_is_escaped(tmp_path):
    at = app()
    name = "![x](http:p.png).txt"  # a file name has no slashes
    upload(at, [(name, b"x")])
    no_exception(at)
    [error] = messages(at)
    assert error.startswith("Upload refused: ")
    assert_plain(error, name)
    names = [IMAGE, LINK] + list(EEG_CHANNELS[2:])
    upload(at, [("odd_raw.fif", fif_bytes(tmp_path, ch_names=names, seconds=10))])
    no_exception(at)
    [error] = messages(at)
    assert "Unknown electrode names" in error
    assert_plain(error, IMAGE, LINK)


def test_markdown_in_annotations_and_class_names_is_escaped(tmp_path):
    raw = dict(ch_names=EEG_CHANNELS, seconds=40,
               annotations=[(1, 12, IMAGE), (16, 12, LINK), (30, 8, IMAGE)])
    at = app()
    upload(at, [("session_raw.fif", fif_bytes(tmp_path, **raw))])
    no_exception(at)
    assert not at.error, messages(at)
    [warning] = [w for w in messages(at, "warning") if "are not the model" in w]
    assert_plain(warning, IMAGE, LINK)
    # class names from a checkpoint's metadata: Markdown escaped, Plotly labels plain text
    tag = "<a href='http://attacker.example'>b</a>"
    model = _checkpoint(tmp_path / "model", [IMAGE, tag])
    at.selectbox(key="source").set_value("demo").run()
    at.radio(key="model_kind").set_value("Checkpoint folder").run()
    at.text_input(key="model_path").input(str(model)).run()
    no_exception(at)
    predicted = next(m.value for m in at.markdown if m.value.startswith("**Predicted:**"))
    assert re.sub(r"\\(.)", r"\1", predicted).replace("\u2060", "").split(" (p = ")[0] in (
        f"**Predicted:** {IMAGE}", f"**Predicted:** {tag}")
    assert_plain(predicted.removeprefix("**Predicted:**"))
    for text in messages(at, "warning") + messages(at, "error"):
        assert_plain(text)
    bars = app_figures.figures(at)
    labels = next(f["data"][0]["y"] for f in bars if f["data"][0].get("name") == "probability")
    assert all("<" not in label for label in labels)
    assert any("&lt;a href=" in label for label in labels)


def test_plotly_labels_are_plain_text():
    fig = probability_bar([0.4, 0.6], ["<b>x</b> & y", "<a href='http://e.example'>z</a>"],
                          title="<img src=x>")
    assert list(fig.data[0].y) == ["&lt;b&gt;x&lt;/b&gt; &amp; y",
                                   "&lt;a href='http://e.example'&gt;z&lt;/a&gt;"]
    assert fig.layout.title.text == "&lt;img src=x&gt;"


def test_metadata_of_the_wrong_types_is_an_error_message(tmp_path):
    model = _checkpoint(tmp_path / "model", ["low", "high"])
    meta = model / "rbt_metadata.json"
    wrong = {**json.loads(meta.read_text()), "class_names": 5, "metrics": "x",
             "ch_names": {"a": 1}, "target": ["valence"]}
    meta.write_text(json.dumps(wrong))
    for page in (None, TRIAL):
        at = app(page)
        at.radio(key="model_kind").set_value("Checkpoint folder").run()
        at.text_input(key="model_path").input(str(model)).run()
        no_exception(at)
        assert at.error or at.warning


def test_csv_exports_are_spreadsheet_safe():
    from charts import export_csv

    frame = pd.DataFrame({"predicted": ['=HYPERLINK("http://e.example","x")', "high"],
                          "@SUM(A1)": [0.25, 0.75]})
    rows = list(csv.reader(io.StringIO(export_csv(frame).decode())))
    assert rows == [["predicted", "'@SUM(A1)"],
                    ["'=HYPERLINK(\"http://e.example\",\"x\")", "0.25"], ["high", "0.75"]]


# --------------------------------------------------------------------------------------------
# typed paths: data roots


def test_the_shipped_config_listens_on_loopback():
    import tomllib

    config = tomllib.loads((Path(HOME).parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert is_loopback(config["server"]["address"])


def test_network_address_without_roots_reads_no_typed_path(server):
    st.config.set_option("server.address", "0.0.0.0")
    at = app()
    at.selectbox(key="source").set_value("deap").run()
    field = at.text_input(key="path_deap")
    assert field.disabled
    assert any("Typed paths are off on this server" in c.value for c in at.sidebar.caption)
    assert any("Served on a network address" in c.value and "no typed paths" in c.value
               for c in at.sidebar.caption)
    at.selectbox(key="source").set_value("raw").run()
    at.radio(key="raw_how").set_value("Path on this machine").run()
    assert at.text_input(key="path_raw").disabled
    at.radio(key="model_kind").set_value("Checkpoint folder").run()
    assert at.text_input(key="model_path").disabled
    no_exception(at)
    # uploads and the shipped checkpoint still work
    at.radio(key="model_kind").set_value("Shipped demo checkpoint").run()
    at.radio(key="raw_how").set_value("Upload").run()
    upload(at, [("session_raw.fif", fif_bytes(server, ch_names=EEG_CHANNELS, seconds=30))])
    no_exception(at)
    assert not at.error, messages(at)
    assert app_figures.charts(at)


def test_outside_the_roots_one_message_for_existing_and_missing(server, monkeypatch):
    root = server / "root"
    deap = F.deap_folder(root / "data_preprocessed_python", subjects=(1,), n_trials=2)
    secret = server / "private"
    secret.mkdir()
    (secret / "s01.dat").write_bytes(b"\x80\x02secret bytes")
    (root / "link").symlink_to(secret)
    monkeypatch.setenv("RBT_DATA_ROOTS", str(root))
    st.config.set_option("server.address", "0.0.0.0")
    at = app()
    at.selectbox(key="source").set_value("deap").run()
    seen = []
    for path in (secret / "s01.dat", secret / "missing.dat", secret, Path("/etc"),
                 root / "link" / "s01.dat", root / ".." / "private"):
        at.text_input(key="path_deap").input(str(path)).run()
        no_exception(at)
        seen.append((messages(at), [i.value for i in at.info],
                     [c.value for c in at.sidebar.caption]))
    assert all(s == seen[0] for s in seen), seen
    [error] = seen[0][0]
    assert "not one this dashboard may read" in error and "secret" not in error
    # inside the roots: read as usual
    at.text_input(key="path_deap").input(str(deap)).run()
    no_exception(at)
    assert not at.error, messages(at)
    assert at.selectbox(key="sel_subject").value == "s01"
    # checkpoints too
    model = _checkpoint(secret / "model", ["low", "high"])
    at.radio(key="model_kind").set_value("Checkpoint folder").run()
    for path in (model, secret / "nowhere"):
        at.text_input(key="model_path").input(str(path)).run()
        assert messages(at)[0] == error


def test_an_upload_path_is_never_accepted_as_a_typed_path(server):
    at = app()
    upload(at, [("mine_raw.fif", fif_bytes(server, ch_names=EEG_CHANNELS, seconds=30))])
    no_exception(at)
    uploads = at.session_state["_uploads"]
    kept = uploads.main
    assert kept.is_file() and str(kept.parent) not in " ".join(
        m.value for m in at.main.markdown)
    other = app()
    other.selectbox(key="source").set_value("raw").run()
    other.radio(key="raw_how").set_value("Path on this machine").run()
    for path in (kept, kept.parent, uploads.store.root):
        other.text_input(key="path_raw").input(str(path)).run()
        no_exception(other)
        assert "not one this dashboard may read" in messages(other)[0]
    other.selectbox(key="source").set_value("deap").run()
    other.text_input(key="path_deap").input(str(kept)).run()
    assert "not one this dashboard may read" in messages(other)[0]


# --------------------------------------------------------------------------------------------
# uploads in the app: private, replaced, deleted at session end and after the TTL


def _prefetch_ended() -> None:
    """Wait for the work a page's last run started ahead (app/prefetch.py): its thread holds
    the run's context, and so the session's state, until it ends."""
    for thread in threading.enumerate():
        if thread.name == "rbt-prefetch":
            thread.join()


def test_uploads_are_private_replaced_and_deleted(server, monkeypatch):
    at = app()
    upload(at, [("first_raw.fif", fif_bytes(server, "first_raw.fif", ch_names=EEG_CHANNELS,
                                            seconds=30))])
    no_exception(at)
    uploads = at.session_state["_uploads"]
    first, folder, root = uploads.main, uploads.folder, uploads.store.root
    assert root.parent == server / "uploads"
    for f, mode in ((root, 0o700), (folder, 0o700), (first, 0o600)):
        assert stat.S_IMODE(f.stat().st_mode) == mode, f
    upload(at, [("second_raw.fif", fif_bytes(server, "second_raw.fif", ch_names=EEG_CHANNELS,
                                             seconds=30))])
    no_exception(at)
    assert not first.exists() and at.session_state["_uploads"].main.name == "second_raw.fif"
    # a broken upload is not kept, and the recording before it stays in use
    second = at.session_state["_uploads"].main
    upload(at, [("broken.edf", b"0" * 500)])
    assert "MNE cannot read" in messages(at)[0]
    assert "Still in use: second_raw.fif." in messages(at)[0].replace("\\", "")
    assert [p for p in folder.rglob("*") if p.is_file()] == [second]
    # the session ends: Streamlit drops its state, and the folder goes with it (once the
    # work its last run started ahead, which holds the run's context, has ended)
    _prefetch_ended()
    del at, uploads
    gc.collect()
    assert not folder.exists() and root.exists()


def test_uploads_are_deleted_after_the_idle_time_limit(server, monkeypatch):
    monkeypatch.setenv("RBT_UPLOAD_TTL", "30")
    data = fif_bytes(server, ch_names=EEG_CHANNELS, seconds=30)
    a, b = app(), app()
    upload(a, [("a_raw.fif", data)])
    no_exception(a)
    folder = a.session_state["_uploads"].folder
    old = time.time() - 60
    os.utime(folder, (old, old))
    upload(b, [("b_raw.fif", data)])  # any upload sweeps expired folders
    assert not folder.exists()
    a.run()
    no_exception(a)
    assert any("The upload was deleted after 30 s without use" in w
               for w in messages(a, "warning"))
    assert not app_figures.charts(a)  # nothing is loaded from a deleted upload


def test_upload_roots_left_by_a_killed_server_are_removed(tmp_path):
    stale = tmp_path / "rbt-uploads-stale"  # left by a server that was killed
    (stale / "session-x").mkdir(parents=True)
    (stale / "session-x" / "rec.edf").write_bytes(b"x")
    recent = tmp_path / "rbt-uploads-recent"
    recent.mkdir()
    old = time.time() - 3600
    for path in (stale / "session-x", stale):
        os.utime(path, (old, old))
    store = UploadStore(tmp_path, ttl=60)
    assert not stale.exists() and recent.exists() and store.root.exists()
