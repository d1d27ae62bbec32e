"""End to end: the shipped demo model predicts an unlabelled EDF recording at another rate,
whose channels come in another order and spelling."""

from pathlib import Path

import formats as F
import numpy as np
import pandas as pd
import pytest

from rbt.cli import main
from rbt.data.deap import EEG_CHANNELS

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo-checkpoint"


@pytest.mark.skipif(not DEMO.exists(), reason="assets/demo-checkpoint not built yet")
def test_unlabelled_recording_is_predicted_with_channels_reordered(tmp_path, capsys):
    pytest.importorskip("edfio")
    names = [n.upper() for n in reversed(EEG_CHANNELS)]
    raw = F.make_raw(names, sfreq=256.0, seconds=12.0)  # no annotations, no events
    path = F.save_edf(raw, tmp_path / "rec.edf")
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(DEMO), "--source", "raw", "--path", str(path),
                 "--out", str(out)]) == 0
    df = pd.read_csv(out)
    # resampled to 128 Hz: 12 s = 1536 samples -> (1536 - 512) // 117 + 1 windows
    assert len(df) == (1536 - 512) // 117 + 1
    assert "true" not in df.columns
    assert set(df["predicted"]) <= {"low", "high"}
    np.testing.assert_allclose(df[["p_low", "p_high"]].sum(axis=1), 1, atol=1e-5)
    assert "accuracy" not in capsys.readouterr().out


@pytest.mark.skipif(not DEMO.exists(), reason="assets/demo-checkpoint not built yet")
def test_recording_missing_electrodes_is_explained(tmp_path, capsys):
    path = F.save_fif(F.make_raw(EEG_CHANNELS[:20], seconds=8.0), tmp_path / "rec_raw.fif")
    code = main(["predict", "--model", str(DEMO), "--source", "raw", "--path", str(path),
                 "--out", str(tmp_path / "p.csv")])
    assert code == 2
    err = capsys.readouterr().err
    assert "32 electrodes and the data has 20" in err and "missing from the data" in err
    assert not (tmp_path / "p.csv").exists()
