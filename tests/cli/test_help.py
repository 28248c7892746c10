"""Every registered verb loads and renders `--help` (and so does every subcommand); every option
a person can see says what it is for; every command runs under the one error policy."""
from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from lume.runtime.cli import VERBS, main
from lume.runtime.cli._errors import LumeCommand, LumeGroup
from lume.runtime.core import get


def _walk(command: click.Command, path: tuple[str, ...]):
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            yield from _walk(command.get_command(ctx, name), (*path, name))


def _commands() -> list[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(main)
    found = []
    for verb in VERBS:
        found += list(_walk(main.get_command(ctx, verb), (verb,)))
    return found


COMMANDS = _commands()


def test_every_registered_verb_is_listed() -> None:
    assert sorted(VERBS) == main.list_commands(click.Context(main))
    shown = CliRunner().invoke(main, ["--help"])
    assert shown.exit_code == 0
    for verb in VERBS:
        assert f"  {verb} " in shown.output


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_help_renders(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: ")


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_visible_option_has_help_and_hidden_ones_stay_hidden(path, command) -> None:
    ctx = click.Context(command, info_name=path[-1])
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option) or param.hidden or param.name == "help":
            continue
        assert param.help and param.help.strip(), f"lume {' '.join(path)} {param.opts[0]} has no help text"
    text = command.get_help(ctx)
    for param in command.get_params(ctx):
        if isinstance(param, click.Option) and param.hidden:
            assert not any(f"{o} " in text or f"{o}," in text for o in param.opts), \
                f"lume {' '.join(path)} shows the hidden {param.opts}"
        for old in getattr(param, "hidden_aliases", ()):
            assert old not in text.split(), f"lume {' '.join(path)} shows the old spelling {old}"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_uses_the_one_error_policy(path, command) -> None:
    expected = LumeGroup if isinstance(command, click.Group) else LumeCommand
    assert isinstance(command, expected), f"lume {' '.join(path)} is a plain {type(command).__name__}"


@pytest.mark.parametrize(("path", "command"), [(p, c) for p, c in COMMANDS if not isinstance(c, click.Group)],
                         ids=[" ".join(p) for p, c in COMMANDS if not isinstance(c, click.Group)])
def test_every_command_speaks_json(path, command) -> None:
    opts = {o for p in command.get_params(click.Context(command)) for o in getattr(p, "opts", ())}
    assert "--json" in opts, f"lume {' '.join(path)} has no --json"


def test_one_json_help_text() -> None:
    texts = {p.help for _, c in COMMANDS for p in c.get_params(click.Context(c))
             if isinstance(p, click.Option) and "--json" in p.opts}
    assert len(texts) == 1, texts


def _fresh(code: str) -> str:
    """stdout of `code` run in a fresh interpreter (nothing imported yet)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_every_verb_and_rendering_the_top_help_reads_no_contract() -> None:
    # `lume --help` and the import of every verb module load no contract: choices and
    # defaults that come from contracts are resolved when a command needs them.
    loaded = _fresh(
        "import importlib\n"
        "from click.testing import CliRunner\n"
        "from lume.runtime.cli import VERBS, main\n"
        "for target in VERBS.values():\n"
        "    importlib.import_module('lume.runtime.cli.' + target.split(':')[0])\n"
        "assert CliRunner().invoke(main, ['--help']).exit_code == 0\n"
        "from lume.runtime.core import load_all\n"
        "print(load_all.cache_info().currsize)\n")
    assert loaded == "0", "a verb module read the contracts at import time"


def test_validate_parses_little() -> None:
    heavy = _fresh(
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from lume.runtime.cli import main\n"
        "CliRunner().invoke(main, ['validate', '--help'])\n"
        "print(','.join(m for m in ('fastapi', 'uvicorn', 'mediapipe', 'cv2', 'matplotlib', 'scipy',\n"
        "                           'lume.runtime.airdeck', 'lume.runtime.director') if m in sys.modules))\n")
    assert heavy == "", f"`lume validate --help` imported {heavy}"


def test_the_top_help_imports_no_component() -> None:
    # `lume --help` lists every verb: a verb module that imports its component when it is
    # imported (a default read from a component class, say) puts that component's start-up
    # on every command's (issue 19: `lume --help` <= 0.15 s)
    loaded = _fresh(
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from lume.runtime.cli import main\n"
        "assert CliRunner().invoke(main, ['--help']).exit_code == 0\n"
        "print(','.join(sorted({m.split('.')[2] for m in sys.modules if m.startswith('lume.runtime.')\n"
        "                       and m.split('.')[2] not in ('cli', 'core')})))\n")
    assert loaded == "", f"`lume --help` imported the components {loaded}"


def test_a_default_read_from_a_contract_is_shown_in_its_commands_help() -> None:
    from lume.runtime.core import table

    wait = table("director_ownership.v2").identify.enroll_lock_wait_s  # the contract owns it
    for verb in ("enroll", "revoke"):
        shown = CliRunner().invoke(main, ["director", verb, "--help"], terminal_width=200).output
        assert f"[default: {wait:g}s]" in shown


def test_the_top_help_and_a_passing_validate_never_import_rich(tmp_path) -> None:
    # rich costs about 30 ms of start-up: it is imported when something is printed through it,
    # and neither `lume --help` nor a passing `lume validate` prints through it (issue 19:
    # both <= 0.15 s)
    doc = tmp_path / "manifest.json"
    doc.write_text(json.dumps(get("transport_manifest.v1").examples[0]))
    loaded = _fresh(
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from lume.runtime.cli import main\n"
        "assert CliRunner().invoke(main, ['--help']).exit_code == 0\n"
        f"assert CliRunner().invoke(main, ['validate', {str(doc)!r}]).exit_code == 0\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'rich')))\n")
    assert loaded == "", f"imported {loaded}"
