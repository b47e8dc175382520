"""Progress: a tqdm bar on a terminal, a handful of plain lines elsewhere, nothing when quiet; and
the counted work it is wired into (conversion, scoring)."""

import io
from types import SimpleNamespace

import pytest

from visionblocks import progress as progress_module
from visionblocks.progress import Progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch):
    """progress.py's clock, set by hand: ``clock.now`` seconds."""
    fake = SimpleNamespace(now=0.0)
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(perf_counter=lambda: fake.now))
    return fake


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_plain_output_is_a_line_at_start_each_quarter_and_end(clock):
    stream = io.StringIO()
    with Progress("score", stream, quiet=False).bar(100, "scoring") as bar:
        for _ in range(100):
            clock.now += 0.2  # 5 images/s
            bar.advance()
    assert "\r" not in stream.getvalue()
    assert _lines(stream) == [
        "[score] scoring: 0/100 images",
        "[score] scoring: 25/100 images, 5.0 images/s, about 00:15 left",
        "[score] scoring: 50/100 images, 5.0 images/s, about 00:10 left",
        "[score] scoring: 75/100 images, 5.0 images/s, about 00:05 left",
        "[score] scoring: 100/100 images in 00:20, 5.0 images/s",
    ]


def test_plain_output_of_quick_work_is_its_start_and_end(clock):
    stream = io.StringIO()
    with Progress("", stream, quiet=False).bar(1000, "decoding", unit="file") as bar:
        for _ in range(1000):
            clock.now += 0.001
            bar.advance()
    assert _lines(stream) == ["decoding: 0/1000 files", "decoding: 1000/1000 files in 00:01, 1000.0 files/s"]


def test_plain_output_jumping_several_quarters_prints_one_line(clock):
    stream = io.StringIO()
    with Progress("", stream, quiet=False).bar(100, "scoring") as bar:
        clock.now = 10.0
        bar.advance(80)
        clock.now = 11.0
        bar.advance(10)  # still in the last quarter: no line
        clock.now = 12.0
        bar.advance(10)
    assert _lines(stream)[1:] == ["scoring: 80/100 images, 8.0 images/s, about 00:02 left",
                                  "scoring: 100/100 images in 00:12, 8.3 images/s"]


def test_notes_are_plain_lines_and_training_style_bars_print_no_lines_of_their_own(clock):
    stream = io.StringIO()
    with Progress("train", stream, quiet=False).bar(10, "epoch 1/2", unit="batch", lines=False) as bar:
        for step in range(1, 11):
            clock.now += 1
            bar.advance()
            if step % 5 == 0:
                bar.note(f"loss {1 / step:.2f}")
    assert _lines(stream) == ["[train] epoch 1/2 batch 5/10: loss 0.20", "[train] epoch 1/2 batch 10/10: loss 0.10"]


def test_work_that_fails_prints_no_end_line():
    stream = io.StringIO()
    with pytest.raises(RuntimeError):
        with Progress("", stream, quiet=False).bar(10, "scoring") as bar:
            bar.advance(3)
            raise RuntimeError("boom")
    assert _lines(stream) == ["scoring: 0/10 images"]


def test_a_terminal_gets_a_bar_with_rate_and_time_left():
    stream = Terminal()
    say = Progress("convert", stream, quiet=False)
    with say.bar(50, "decoding", unit="file") as bar:
        for step in range(50):
            bar.advance()
            if step == 10:
                say.log("a message while the bar runs")
    out = stream.getvalue()
    assert "\r" in out  # redrawn in place
    assert "[convert] decoding:" in out and "/50 [" in out  # tqdm's count, elapsed<left, rate
    assert "file/s" in out or "s/file" in out
    assert "[convert] a message while the bar runs\n" in out
    assert out.rstrip().splitlines()[-1].startswith("[convert] decoding: 50/50 files in ")


def test_a_terminal_shows_notes_beside_the_bar():
    stream = Terminal()
    with Progress("", stream, quiet=False).bar(4, "epoch 1/1", unit="batch", lines=False) as bar:
        bar.advance()
        bar.note("loss 0.50")
        bar.advance(3)
    assert "loss 0.50" in stream.getvalue()
    assert "epoch 1/1 batch" not in stream.getvalue()  # no plain line for the note


@pytest.mark.parametrize("stream_type", [io.StringIO, Terminal])
def test_quiet_silences_lines_and_bars(monkeypatch, stream_type):
    monkeypatch.setenv("VISIONBLOCKS_QUIET", "1")
    stream = stream_type()
    say = Progress("x", stream)
    say.log("hello")
    with say.bar(10, "scoring") as bar:
        bar.advance(10)
        bar.note("note")
    assert stream.getvalue() == ""


def test_nothing_to_count_shows_nothing():
    stream = io.StringIO()
    with Progress("", stream, quiet=False).bar(0, "decoding") as bar:
        pass
    assert stream.getvalue() == "" and bar.done == 0


def test_child_keeps_the_stream_and_quietness():
    stream = io.StringIO()
    parent = Progress("pipeline", stream, quiet=True)
    child = parent.child("node")
    child.log("hidden")
    assert child.stream is stream and child.quiet and stream.getvalue() == ""


# -- the work it counts -------------------------------------------------------------------------

def test_conversion_reports_decoding_in_a_few_lines(digits_dir, tmp_path):
    from visionblocks.data.convert import convert

    stream = io.StringIO()
    out = tmp_path / "out"
    out.mkdir()
    convert(digits_dir, out, progress=Progress("convert", stream, quiet=False))
    decoding = [line for line in _lines(stream) if "decoding" in line]
    assert decoding[0] == "[convert] decoding: 0/300 files"
    assert decoding[-1].startswith("[convert] decoding: 300/300 files in ")
    assert len(decoding) <= 5


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import torch

    from visionblocks.learn import models

    torch.manual_seed(0)
    config = models.untrained_config("resnet18", pretrained=False)
    folder = tmp_path_factory.mktemp("model") / "trained_model"
    models.save_trained(folder, models.build_model(config, 10), {**config, "input_size": [3, 16, 16]},
                        [str(d) for d in range(10)], None)
    return folder


def test_scoring_reports_images_and_leaves_the_thread_count_alone(model_dir, digits_dir, tmp_path, monkeypatch):
    import torch

    from visionblocks.data.convert import convert
    from visionblocks.learn.score import Scorer, score_directory

    images = tmp_path / "images"
    images.mkdir()
    convert(digits_dir, images, progress=Progress(quiet=True))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        scorer = Scorer(model_dir, device="cpu")
        assert torch.get_num_threads() == 1  # a constructor does not set the process's threads
    finally:
        torch.set_num_threads(before)
    stream = io.StringIO()
    score_directory(scorer, images, tmp_path / "scored", progress=Progress("score", stream, quiet=False))
    assert _lines(stream)[0] == "[score] scoring: 0/300 images"
    assert _lines(stream)[-1].startswith("[score] scoring: 300/300 images in ")
    assert len(_lines(stream)) <= 5
