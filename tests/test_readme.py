"""The README's code blocks against the code: every `jaxsciml` command line parses with the real
command-line parser (and the files it names exist), and every Python block compiles and names
only attributes that exist. The commands run end to end at small size in
`tests/jaxsciml/test_config_and_cli.py`; here they are checked as written."""

import re
import shlex
from pathlib import Path

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


def command_lines() -> list[str]:
    """The `jaxsciml ...` invocations of the bash blocks, continuation lines joined, comments
    and prefixes (`srun`, `... &&`) removed."""
    found = []
    for language, text in BLOCKS:
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
