"""Which paths the local provider may load: only directories inside the model dirs."""

from pathlib import Path

import pytest

from colloquy.llm.providers.local import LocalProvider, checkpoint_allowed, resolve_checkpoint


@pytest.fixture
def models(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    (root / "tiny").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    return root


def test_a_directory_inside_a_model_dir_is_allowed(models: Path) -> None:
    assert resolve_checkpoint(models / "tiny", [models]) == (models / "tiny").resolve()
    assert checkpoint_allowed(str(models / "tiny"), [models])


def test_a_name_is_looked_up_inside_the_model_dirs(models: Path, tmp_path: Path) -> None:
    other = tmp_path / "more-models"
    (other / "ft-1").mkdir(parents=True)

    assert resolve_checkpoint("ft-1", [models, other]) == (other / "ft-1").resolve()
    assert resolve_checkpoint("tiny", [models, other]) == (models / "tiny").resolve()


def test_a_path_relative_to_the_working_directory_works(
    models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert resolve_checkpoint("models/tiny", ["models"]) == (models / "tiny").resolve()


def test_a_path_outside_is_refused(models: Path, tmp_path: Path) -> None:
    assert not checkpoint_allowed(tmp_path / "outside", [models])
    assert not checkpoint_allowed("/etc", [models])


def test_dot_dot_cannot_escape(models: Path) -> None:
    assert not checkpoint_allowed(models / "tiny" / ".." / ".." / "outside", [models])
    assert not checkpoint_allowed("../outside", [models])
    assert not checkpoint_allowed("tiny/../../outside", [models])


def test_a_symlink_out_of_the_model_dir_is_refused(models: Path, tmp_path: Path) -> None:
    (models / "sneaky").symlink_to(tmp_path / "outside", target_is_directory=True)

    assert not checkpoint_allowed(models / "sneaky", [models])
    assert not checkpoint_allowed("sneaky", [models])


def test_a_symlink_to_another_model_dir_entry_is_allowed(models: Path) -> None:
    (models / "alias").symlink_to(models / "tiny", target_is_directory=True)

    assert resolve_checkpoint("alias", [models]) == (models / "tiny").resolve()


def test_the_model_dir_itself_is_not_a_checkpoint(models: Path) -> None:
    assert not checkpoint_allowed(models, [models])
    assert not checkpoint_allowed("tiny/..", [models])


def test_a_checkpoint_not_yet_written_is_still_allowed(models: Path) -> None:
    assert checkpoint_allowed("not-trained-yet", [models])


def test_the_provider_checks_its_own_model_dirs(models: Path, tmp_path: Path) -> None:
    provider = LocalProvider([models])

    assert provider.checkpoint_allowed("tiny")
    assert not provider.checkpoint_allowed(tmp_path / "outside")
