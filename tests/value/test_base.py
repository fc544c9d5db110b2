"""The model contract: config overrides, save/load round trip, format checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from siyu import __version__
from siyu.value.base import FORMAT, ModelFormatError, NotFittedError
from siyu.value.bgnbd import BetaGeoConfig, BetaGeoModel, BetaGeoParams
from siyu.value.gamma_gamma import GammaGammaModel
from siyu.value.simulate import simulate_summary
from siyu.value.summary import RFMSummary, rfm_summary


@pytest.fixture
def summary():
    return rfm_summary({"consumer_id": ["a", "a", "a", "b", "b", "c", "d", "d"],
                        "date": np.array(["2025-01-01", "2025-01-09", "2025-02-01",
                                          "2025-01-03", "2025-01-30", "2025-01-15",
                                          "2025-01-02", "2025-01-20"], "datetime64[D]"),
                        "amount": [10.0, 12.0, 8.0, 30.0, 25.0, 9.0, 5.0, 6.0]},
                       calibration_end="2025-03-31")


def test_config_defaults_and_overrides():
    m = BetaGeoModel(time_scale=7, max_iterations=50)
    assert m.config == BetaGeoConfig(time_scale=7, max_iterations=50)
    assert BetaGeoModel(BetaGeoConfig(time_scale=7)).config.time_scale == 7
    with pytest.raises(TypeError):
        BetaGeoModel(no_such_setting=1)
    with pytest.raises(NotFittedError):
        _ = BetaGeoModel().params
    no_repeats = RFMSummary.from_arrays([0, 0], [0.0, 0.0], [5.0, 9.0])
    with pytest.raises(ValueError, match="repeat purchases"):
        BetaGeoModel().fit(no_repeats)


@pytest.mark.parametrize("kind", [BetaGeoModel, GammaGammaModel])
def test_save_load_round_trip(tmp_path, kind):
    s = simulate_summary(BetaGeoParams(0.5, 4.0, 0.8, 2.5), n=2000, T=300, seed=2,
                         gamma_gamma=GammaGammaModel.params_type(6.0, 4.0, 15.0),
                         time_scale=7)
    m = kind(time_scale=7) if kind is BetaGeoModel else kind(max_iterations=500)
    m.fit(s)
    path = m.save(tmp_path / "models" / f"{kind.name}.json")
    doc = json.loads(path.read_text())
    assert doc["format"] == FORMAT and doc["model"] == kind.name
    assert doc["siyu_version"] == __version__
    assert doc["data"]["n_consumers"] == 2000 and doc["data"]["summary_hash"] == s.digest()
    back = kind.load(path)
    assert back.params == m.params and back.config == m.config
    assert back.fit_report == m.fit_report and back.data == m.data
    if kind is BetaGeoModel:
        np.testing.assert_array_equal(back.expected_purchases(s, t=90),
                                      m.expected_purchases(s, t=90))
    else:
        np.testing.assert_array_equal(back.expected_spend(s), m.expected_spend(s))


def test_data_window_from_a_transaction_summary(tmp_path, summary):
    m = BetaGeoModel()
    m.fit(summary)
    assert (m.data.calibration_start, m.data.calibration_end) == ("2025-01-01", "2025-03-31")
    again = BetaGeoModel.load(m.save(tmp_path / "m.json"))
    assert again.data.calibration_end == "2025-03-31"


def test_load_refuses_other_files(tmp_path):
    m = BetaGeoModel.from_params(BetaGeoParams(0.2, 4.0, 0.8, 2.4), time_scale=7)
    good = m.to_dict()
    assert good["fit"] is None and good["data"] is None
    assert BetaGeoModel.from_dict(good).params == m.params

    def bad(change, match):
        doc = json.loads(json.dumps(good))
        change(doc)
        p = tmp_path / "bad.json"
        p.write_text(json.dumps(doc))
        with pytest.raises(ModelFormatError, match=match):
            BetaGeoModel.load(p)

    bad(lambda d: d.update(format="other"), "not a siyu value model")
    bad(lambda d: d.update(format_version=99), "format version")
    bad(lambda d: d.update(model="gamma_gamma"), "not 'bgnbd'")
    bad(lambda d: d["params"].pop("b"), "missing")
    bad(lambda d: d["params"].update(c=1.0), "unknown")
    bad(lambda d: d["params"].update(a=-1.0), "positive")
    bad(lambda d: d["config"].update(colour="red"), "unknown")
    with pytest.raises(ModelFormatError, match="gamma_gamma"):
        GammaGammaModel.from_dict(good)
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ModelFormatError, match="readable"):
        BetaGeoModel.load(tmp_path / "junk.json")
