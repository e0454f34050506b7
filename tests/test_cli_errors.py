"""User mistakes end with one line naming the cause and the fix, a non-zero exit and no run folder."""

from __future__ import annotations

import pytest

from imdb_fixture import write_imdb_archive

CASES = {
    "model=lstmm": "model 'lstmm' not found; choose one of attention, bigru, bilstm, gru, lstm, rnn, stacked_lstm",
    "model.hiden_size=32": "'model.hiden_size' is not a config key; model has: cell, hidden_size",
    "+epochs=3": "'epochs' is not a config key; the top level has: data, model, trainer",
    "+model.hiden_size=5": "'model.hiden_size' is not a config key; model has: cell, hidden_size",
    "++data.seq_lenght=5": "'data.seq_lenght' is not a config key; data has: generator, length",
    "trainer.max_epochs=abc": "trainer.max_epochs: Value 'abc' of type 'str' could not be converted to Integer",
    "model.cell=lstmm": "model.cell='lstmm' is not valid; choose one of rnn, lstm, gru",
    "trainer.profiler=fast": "trainer.profiler='fast' is not valid; choose one of simple, advanced, pytorch",
    "data.csv_path=/no/such/prices.csv": "data.csv_path '/no/such/prices.csv' does not exist",
    "data.seq_len=5000": "data.seq_len=5000 with data.horizon=1 leaves no train/val/test windows",
    "data=imdb data.vocab_size=2": "data.vocab_size is 2 but must be at least 3 (it counts the padding",
    "data=imdb data.max_len=0": "data.max_len is 0 but must be a positive number of tokens",
    "data=imdb data.path=/no/such/imdb.tgz": "data.path '/no/such/imdb.tgz' does not exist",
    "data=imdb data.download=false data.cache_dir=empty_cache": "IMDB data not found and downloading is off; put",
    "data=translation data.task=dats": "data.task='dats' is not valid; choose one of dates, reverse, numbers",
    "data=translation data.min_len=9 data.max_len=4": "data.min_len=9 is greater than data.max_len=4",
    "data=translation decode.beam_size=0": "decode.beam_size=0 is not valid; use 1 (greedy) or more beams",
    "data=translation data.task=reverse data.symbols=2 data.min_len=1 data.max_len=3":
        "reverse with lengths 1-3 and 2 symbols has only 14 distinct sources, fewer than the 22000",
}


@pytest.mark.parametrize("override", CASES)
def test_bad_input_prints_one_clear_line_and_writes_no_run(cli, tmp_path, override):
    result = cli(*override.split())
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("rnnlab: error: ") and CASES[override] in lines[-1]
    assert "Traceback" not in result.stderr + result.stdout
    assert not list((tmp_path / "logs").rglob(".hydra"))  # no run folder, so nothing that looks finished


def test_csv_column_that_is_not_there_lists_the_columns(cli, tmp_path):
    prices = tmp_path / "prices.csv"
    prices.write_text("date,close\n" + "".join(f"d{i},{i}\n" for i in range(200)))
    result = cli(f"data.csv_path={prices}", "data.column=Close")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"rnnlab: error: data.column 'Close' is not in {prices}; choose one of date, close"
    )


def test_truncated_imdb_archive_is_refused_and_leaves_no_cache(cli, tmp_path):
    archive = write_imdb_archive(tmp_path / "imdb.tar.gz")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    result = cli("data=imdb", f"data.path={archive}", "data.cache_dir=cache")
    assert result.returncode == 2
    assert "is corrupt or truncated" in result.stderr.strip().splitlines()[-1]
    assert not list((tmp_path / "cache").rglob("*.txt")) and not list((tmp_path / "cache").rglob("*.npz"))


@pytest.mark.parametrize("override, key, fine", [
    ("model.dropout=1.0", "model.dropout", "0.99"),
    ("data.test_fraction=1.0", "data.test_fraction", "0.5"),
    ("data=imdb data.head_dropout=1.0", "data.head_dropout", "0.99"),
])
def test_a_fraction_of_one_is_refused_in_one_line_naming_the_key(tmp_path, override, key, fine):
    """Dropout 1.0 zeroes every activation and a split of 1.0 leaves nothing to train on: both are refused."""
    from conftest import compose_config
    from rnnlab.errors import UserError

    with pytest.raises(UserError) as error:
        compose_config(tmp_path, *override.split())
    assert str(error.value) == f"{key}=1.0 is out of range; use a value in [0, 1)"
    compose_config(tmp_path, *override.replace("1.0", fine).split())  # below 1 is fine


def test_a_typo_in_a_later_choice_of_a_sweep_is_one_line_before_any_job_runs(cli, tmp_path):
    result = cli("-m", "model=rnn,gruu", "debug=fast_dev_run")
    assert result.returncode == 2
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        "rnnlab: error: model 'gruu' not found; choose one of attention, bigru, bilstm, gru, lstm, rnn, stacked_lstm"]
    assert "Traceback" not in result.stderr + result.stdout
    assert not list((tmp_path / "logs").rglob(".hydra"))  # not even the model=rnn job started
