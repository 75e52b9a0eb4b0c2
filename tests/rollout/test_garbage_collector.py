"""The garbage collector's young threshold is set from the configuration when the app is built."""
import gc

from rollout import create_app, tune_garbage_collector


def test_the_young_threshold_is_set_and_zero_keeps_it():
    saved = gc.get_threshold()
    try:
        tune_garbage_collector(30_000)
        assert gc.get_threshold() == (30_000, *saved[1:])
        tune_garbage_collector(0)
        assert gc.get_threshold()[0] == 30_000
    finally:
        gc.set_threshold(*saved)


def test_building_the_app_applies_the_setting(tmp_path):
    saved = gc.get_threshold()
    try:
        app = create_app({"TESTING": True, "GC_GEN0_THRESHOLD": 40_000,
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'gc.db'}"})
        assert app.config["GC_GEN0_THRESHOLD"] == 40_000
        assert gc.get_threshold() == (40_000, *saved[1:])
    finally:
        gc.set_threshold(*saved)
