"""What a run reports each tick: the notebook callback, grids, log lines."""

import pytest

from conftest import images, tiny
from stylegan_tutorial.training import train

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def test_notebook_progress_draws_every_tick(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    monkeypatch.setattr(IPython.display, "clear_output", lambda wait=False: None)
    from stylegan_tutorial.monitor import notebook_progress, progress_figure

    run = train(tiny(total_kimg=0.048, tick_kimg=0.016, grid_size=4), images(), progress=False,
                callbacks=[notebook_progress(every=3)])
    assert len(shown) == 1  # 3 ticks, drawn on the 3rd
    assert isinstance(shown[0], IPython.display.Image) and shown[0].data[:8] == b"\x89PNG\r\n\x1a\n"
    title = progress_figure(run, run.history[-1]).axes[1].get_title()
    assert "8²" in title and "alpha 0.25" in title  # last step: images 40-47, 8² a quarter faded in
    with pytest.raises(ValueError, match="every must be an integer >= 1, got 0"):
        notebook_progress(0)


def test_a_run_directory_gets_grids_plot_and_log(tmp_path):
    import json

    train(tiny(total_kimg=0.032, tick_kimg=0.016, grid_size=4), images(), tmp_path, progress=False)
    grids = sorted(p.name for p in (tmp_path / "samples").glob("fakes-*.png"))
    assert grids == ["fakes-000000016.png", "fakes-000000032.png"]
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [round(t["kimg"], 3) for t in lines] == [0.016, 0.032]
    assert (tmp_path / "losses.png").stat().st_size > 0
    assert not list(tmp_path.glob(".*.tmp"))  # every file written whole, no temporary left
