"""SSE battery, short variants (issue 13): chaos reconnects lose and repeat nothing; clients that
never read cost the server bounded memory; a fast writer with stalled readers loses nothing."""

from __future__ import annotations

from battery_lab import Lab
from battery_sse import chaos, fast_writer, stalled_readers


def test_chaos_reconnects_during_a_live_run_lose_and_repeat_nothing(lab_runs, battery_long):
    with Lab(lab_runs) as lab, lab.client() as client:
        run_id = lab.create(client, epochs=20 if battery_long else 6, batch_size=8, progress_interval_s=0)
        figures = chaos(lab, run_id, min_reconnects=500 if battery_long else 100, seed=13)
        summary = lab.wait_status(client, run_id, {"completed", "failed"})
    assert summary["status"] == "completed", summary
    assert figures["reconnects"] >= 100 and figures["reconnects_while_running"] >= 30, figures
    assert figures["lost"] == 0 and figures["duplicated"] == 0 and figures["order_kept"], figures
    assert figures["identical_to_log"] and figures["fresh_replays_match_log_head"], figures
    assert figures["hung_up_mid_frame"] > 0 and all(figures["modes"].values()), figures


def test_clients_that_never_read_cost_bounded_memory(lab_runs, battery_long):
    log_mb, readers = (80, 10) if battery_long else (24, 8)
    with Lab(lab_runs) as lab:
        for live in (False, True):
            figures = stalled_readers(lab, log_mb=log_mb, readers=readers, live=live)
            assert figures["normal_reader_events"] == figures["events_in_log"], figures
            # before the fix each reader held the whole log (several copies): > 200 MB here
            assert figures["rss_growth_mb"] < 60, figures


def test_a_fast_writer_with_stalled_readers_loses_nothing(lab_runs, battery_long):
    with Lab(lab_runs) as lab:
        figures = fast_writer(lab, rate=1000, seconds=8 if battery_long else 3, stalled=5)
    assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
    assert figures["rss_growth_mb"] < 60, figures
