"""The README's code blocks against the code: every `jaxsciml` command line parses with the real
command-line parser (and the files it names exist), every Python block compiles and names only
attributes that exist, and the command-line walk-through (datagen, train, evaluate, demo) runs as
written, in order, with only its sizes shrunk."""

import json
import re
import shlex
from pathlib import Path

import jax
import numpy as np
import pytest

import datagen
import jaxsciml
import solvers
from jaxsciml import cli, physics


ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(bash|python)\n(.*?)```", README, flags=re.DOTALL)
MODULES = {"jsm": jaxsciml, "jaxsciml": jaxsciml, "datagen": datagen, "solvers": solvers,
           "ph": physics}  # fmt: skip


def command_lines(blocks=BLOCKS) -> list[list[str]]:
    """The `jaxsciml ...` invocations of the bash `blocks`, continuation lines joined, comments
    and prefixes (`srun`, `... &&`) removed."""
    found = []
    for language, text in blocks:
        if language != "bash":
            continue
        for line in text.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s#.*$", "", line).strip()
            if line.startswith("#"):
                continue
            for part in line.split("&&"):
                words = shlex.split(part.replace("$SLURM_ARRAY_TASK_ID", "0"))
                if "jaxsciml" in words:
                    found.append(words[words.index("jaxsciml") + 1 :])
    return found


COMMANDS = command_lines()


def test_the_readme_has_commands_and_python_blocks():
    assert len(COMMANDS) >= 6 and sum(language == "python" for language, _ in BLOCKS) >= 6


@pytest.mark.parametrize("words", COMMANDS, ids=[" ".join(w)[:40] for w in COMMANDS])
def test_every_readme_command_parses_and_names_existing_configs(words):
    arguments = cli.parser().parse_args(words)  # exits (fails) on a drifted command or flag
    assert callable(arguments.run)
    for word in words:
        if word.startswith("configs/"):
            assert (ROOT / word).is_file(), word


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_every_readme_python_block_compiles_and_names_existing_attributes(index):
    language, text = BLOCKS[index]
    if language != "python":
        pytest.skip("a bash block")
    compile(text, f"README block {index}", "exec")
    for module_name, attribute in re.findall(r"\b(jsm|jaxsciml|datagen|solvers|ph)\.(\w+)", text):
        module = MODULES[module_name]
        assert hasattr(module, attribute), f"{module_name}.{attribute} in README block {index}"


# The walk-through's sizes, shrunk: flag values replaced, and settings added to `train`.
TINY_VALUES = {("--n", "1200"): "12", ("--n", "100"): "4", ("--resolution", "65"): "17",
               ("--resolution", "129"): "33"}  # fmt: skip
TINY_SETTINGS = ["data.n_train=8", "data.n_test=4", "model.modes=[4, 4]", "model.width=8",
                 "model.projection_channels=8", "train.batch_size=8"]  # fmt: skip
TINY_EXTRA = {
    "train": ["--epochs", "1"] + [w for s in TINY_SETTINGS for w in ("--set", s)],
    "demo": ["--epochs", "1", "--n-train", "8", "--n-test", "4", "--out", "demo"],
}


def shrunk(words: list[str]) -> list[str]:
    words = [TINY_VALUES.get((before, word), word) for before, word in zip([""] + words, words)]
    return words + TINY_EXTRA.get(words[0], [])


@pytest.mark.slow
def test_the_command_line_walk_through_runs_as_written_at_tiny_size(tmp_path, monkeypatch, capsys):
    walk_through = [b for b in BLOCKS if b[0] == "bash" and "jaxsciml datagen darcy" in b[1]]
    commands = command_lines(walk_through)
    assert [words[0] for words in commands] == ["datagen", "datagen", "train", "evaluate", "demo"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    printed = {}
    for words in commands:
        assert cli.main(shrunk(words)) == 0, words
        printed[words[0]] = capsys.readouterr().out
    assert "zero-shot relative L2 on the finer grid" in printed["demo"]
    train, evaluate = shrunk(commands[2]), commands[3]
    run, fine = Path(evaluate[1]), Path(evaluate[2])
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1] and "test.relative_h1" in records[-1]
    # the scores are those of the run's model file on the finer grid, computed here
    scores = json.loads(printed["evaluate"].strip().splitlines()[-1])
    samples = jaxsciml.data.load(fine).read(np.arange(4))
    model = jaxsciml.load_model(run / "model.jsm")
    predictions = np.asarray(model.batched(jax.numpy.asarray(samples.inputs)))
    errors = [
        np.linalg.norm(p - o) / np.linalg.norm(o) for p, o in zip(predictions, samples.outputs)
    ]
    assert scores["relative_l2"] == pytest.approx(np.mean(errors), rel=1e-4)
    # what the run and the evaluation leave for a person, and `plot` redraws
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert evaluation["test"]["relative_l2"] == pytest.approx(records[-1]["test.relative_l2"])
    assert json.loads((run / f"evaluation-{fine.name}.json").read_text()) == scores
    figures = {p.name for p in (run / "figures").iterdir()}
    assert figures == {"history.png", "test.png", f"evaluate-{fine.name}.png"}
    drawn = (run / "figures" / "test.png").stat().st_mtime_ns
    assert cli.main(["plot", str(run)]) == 0 and "figures redrawn" in capsys.readouterr().out
    assert (run / "figures" / "test.png").stat().st_mtime_ns > drawn
    # a model file and a slice of the data: samples 1 and 2
    assert cli.main(["evaluate", str(run / "model.jsm"), str(fine), "--skip", "1", "--n", "2"]) == 0
    part = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert part["relative_l2"] == pytest.approx(np.mean(errors[1:3]), rel=1e-4)
    # the same samples converted to The Well's layout, read with an option of that format
    well = tmp_path / "fine.hdf5"
    assert cli.main(["convert", str(fine), str(well)]) == 0
    model_file, option = str(run / "model.jsm"), "n_steps_input=0"
    assert cli.main(["evaluate", model_file, str(well), "--option", option, "--n", "4"]) == 0
    in_well = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert in_well["relative_l2"] == pytest.approx(np.mean(errors), rel=1e-4)
    # the same run again without --resume refuses to overwrite it, a changed configuration
    # refuses to resume, and neither touches the run
    made = {path: path.stat().st_mtime_ns for path in run.rglob("*")}
    assert cli.main([w for w in train if w != "--resume"]) == 2
    assert "resume" in capsys.readouterr().err
    assert cli.main([*train, "--set", "model.width=12"]) == 2
    assert "different configuration" in capsys.readouterr().err
    assert {path: path.stat().st_mtime_ns for path in run.rglob("*")} == made
