"""`lume contracts diff` on real git history: a temporary repository with each kind of change."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from click.testing import CliRunner

from lume.runtime.cli import main
from lume.runtime.core import contracts_dir
from lume.runtime.tooling._contract_diff import DiffInputError, DiffResult, diff_refs
from lume.runtime.tooling._schema_compat import Resolver, SchemaComparer, pattern_inclusion

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                           "-c", "commit.gpgsign=false", *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


class Repo:
    """A throwaway git repository holding a copy of contracts/ with one commit per version."""

    def __init__(self, root: Path, template: Path | None = None):
        self.root = root
        if template is not None:  # a copy of a ready repository (history included) is quicker
            shutil.copytree(template, root, symlinks=True)
            self.base = git(root, "rev-parse", "HEAD")
            return
        shutil.copytree(contracts_dir(), root / "contracts",
                        ignore=shutil.ignore_patterns("__pycache__", "*.py", "*.md"))
        git(root, "init", "-q", "-b", "main")
        self.base = self.commit("base")

    def commit(self, message: str) -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "--allow-empty", "-m", message)
        return git(self.root, "rev-parse", "HEAD")

    def path(self, stem: str) -> Path:
        return self.root / "contracts" / f"{stem}.yaml"

    def edit(self, stem: str, change: Callable[[dict[str, Any]], None]) -> None:
        p = self.path(stem)
        raw = yaml.safe_load(p.read_text())
        change(raw)
        p.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))

    def diff(self, head: str | None = None) -> DiffResult:
        return diff_refs(self.root, self.base, head)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = Repo(tmp_path_factory.mktemp("template") / "r")
    # The closed-object rules below are exercised on copies of two contracts made closed
    # (their real documents come from Mac4 and are read tolerantly: see the tolerant tests).
    for stem in (LIVE, PROOF):
        repo.edit(stem, lambda r: r["x-lume"].pop("producer"))
    repo.commit("closed copies")
    return repo.root


@pytest.fixture
def repo(tmp_path: Path, template: Path) -> Repo:
    return Repo(tmp_path / "r", template)


def rows(result: DiffResult, contract: str) -> list[tuple[str, str, bool | None, bool | None, str]]:
    return [(r.path, r.change, r.backward, r.forward, r.verdict) for r in result.rows if r.contract == contract]


def only(result: DiffResult, contract: str, path: str):
    found = [r for r in result.rows if r.contract == contract and r.path == path]
    assert len(found) == 1, (path, result.rows)
    return found[0]


LIVE = "mac4_live_output_state.v1"
PROOF = "mrt2_browser_proof.v1"
TOLERANT = "pose_coach_session.v1"  # written by Pose Coach: x-lume.producer external


def test_unchanged_history_has_no_rows(repo: Repo) -> None:
    head = repo.commit("nothing")
    result = repo.diff(head)
    assert result.rows == [] and not result.failed and result.compared > 40


def test_optional_field_added_to_closed_object_is_backward_not_forward(repo: Repo) -> None:
    repo.edit(LIVE, lambda r: r["properties"].__setitem__("note", {"type": "string"}))
    result = repo.diff(repo.commit("add optional note"))
    row = only(result, LIVE, "$.note")
    assert "optional" in row.change and "closed" in row.change
    assert (row.backward, row.forward, row.verdict) == (True, False, "compatible")
    assert not result.failed


def test_required_field_added_to_closed_object_is_breaking(repo: Repo) -> None:
    def change(r: dict) -> None:
        r["properties"]["note"] = {"type": "string"}
        r["required"].append("note")
    repo.edit(LIVE, change)
    result = repo.diff(repo.commit("add required note"))
    row = only(result, LIVE, "$.note")
    assert "required" in row.change
    assert (row.backward, row.forward, row.verdict) == (False, False, "breaking")
    assert result.failed


def test_optional_field_removed_from_closed_object_is_forward_not_backward(repo: Repo) -> None:
    repo.edit(LIVE, lambda r: r["properties"]["enthea"]["properties"].pop("map_path"))
    result = repo.diff(repo.commit("drop map_path"))
    row = only(result, LIVE, "$.enthea.map_path")
    assert "removed" in row.change and "closed" in row.change
    assert (row.backward, row.forward, row.verdict) == (False, True, "breaking")
    assert result.failed


def test_required_field_removed_is_neither(repo: Repo) -> None:
    def change(r: dict) -> None:
        r["properties"].pop("user_agent")
        r["required"].remove("user_agent")
    repo.edit(PROOF, change)
    row = only(repo.diff(repo.commit("drop user_agent")), PROOF, "$.user_agent")
    assert (row.backward, row.forward) == (False, False)


def test_field_became_required_or_optional(repo: Repo) -> None:
    repo.edit(LIVE, lambda r: r["required"].remove("read_only"))
    row = only(repo.diff(repo.commit("read_only optional")), LIVE, "$.read_only")
    assert (row.change, row.backward, row.forward, row.verdict) == ("field became optional", True, False, "compatible")


def test_type_widened_and_narrowed(repo: Repo) -> None:
    repo.edit(PROOF, lambda r: r["properties"]["cc_sent_count"].__setitem__("type", "number"))
    row = only(repo.diff(repo.commit("widen")), PROOF, "$.cc_sent_count")
    assert (row.backward, row.forward, row.verdict) == (True, False, "compatible")
    assert "integer → number" in row.change

    repo.edit(PROOF, lambda r: r["properties"]["user_agent"].__setitem__("type", ["string", "null"]))
    widened = repo.diff(repo.commit("nullable"))
    row = only(widened, PROOF, "$.user_agent")
    assert (row.backward, row.forward) == (True, False)

    repo.base = repo.commit("new base")
    repo.edit(PROOF, lambda r: r["properties"]["cc_sent_count"].__setitem__("type", "integer"))
    row = only(repo.diff(repo.commit("narrow")), PROOF, "$.cc_sent_count")
    assert (row.backward, row.forward, row.verdict) == (False, True, "breaking")


def test_enum_value_added_and_removed(repo: Repo) -> None:
    repo.edit(PROOF, lambda r: r["$defs"]["ProofKind"]["enum"].append("manual_review"))
    row = only(repo.diff(repo.commit("add kind")), PROOF, "$.proof_kind")
    assert "added" in row.change and "manual_review" in row.change
    assert (row.backward, row.forward, row.verdict) == (True, False, "compatible")

    repo.base = repo.commit("new base")
    repo.edit(PROOF, lambda r: r["$defs"]["ProofKind"]["enum"].remove("endpoint_smoke"))
    result = repo.diff(repo.commit("remove kind"))
    row = only(result, PROOF, "$.proof_kind")
    assert "removed" in row.change and (row.backward, row.forward, row.verdict) == (False, True, "breaking")


def test_const_changed_is_neither(repo: Repo) -> None:
    repo.edit(LIVE, lambda r: r["properties"]["mac4_sends_rekordbox_commands"].__setitem__("const", True))
    result = repo.diff(repo.commit("mac4 commands"))
    row = only(result, LIVE, "$.mac4_sends_rekordbox_commands")
    assert row.change == "const false → true"
    assert (row.backward, row.forward, row.verdict) == (False, False, "breaking")
    assert result.failed


def test_bounds_tightened_and_loosened(repo: Repo) -> None:
    def change(r: dict) -> None:
        r["properties"]["cc_sent_count"]["minimum"] = 1        # tightened
        r["properties"]["output_name"]["minLength"] = 0        # loosened
        r["properties"]["user_agent"]["maxLength"] = 512       # tightened (was unbounded)
    repo.edit(PROOF, change)
    result = repo.diff(repo.commit("bounds"))
    tight = only(result, PROOF, "$.cc_sent_count")
    assert "tightened" in tight.change and (tight.backward, tight.forward) == (False, True)
    loose = only(result, PROOF, "$.output_name")
    assert "loosened" in loose.change and (loose.backward, loose.forward) == (True, False)
    capped = only(result, PROOF, "$.user_agent")
    assert "maxLength" in capped.change and (capped.backward, capped.forward) == (False, True)
    assert result.failed


def test_pattern_tightened_loosened_and_equivalent(repo: Repo) -> None:
    topo = "device_topology_mac4_first.v1"
    repo.edit(topo, lambda r: r["properties"]["bundle_id"].__setitem__("pattern", "^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$"))
    row = only(repo.diff(repo.commit("longer ids")), topo, "$.bundle_id")
    assert "loosened" in row.change and row.backward is True and row.forward is not True
    assert row.verdict == "compatible"

    repo.base = repo.commit("new base")
    repo.edit(topo, lambda r: r["properties"]["bundle_id"].__setitem__("pattern", "^[a-z0-9][a-z0-9._-]{0,255}$"))
    row = only(repo.diff(repo.commit("lowercase ids")), topo, "$.bundle_id")
    assert row.backward is not True and row.verdict == "breaking"

    repo.base = repo.commit("new base")
    repo.edit(LIVE, lambda r: r["properties"]["enthea"]["properties"]["controls"]["propertyNames"].__setitem__(
        "pattern", "^[a-z]+(_[a-z0-9]+)*$"))
    row = only(repo.diff(repo.commit("controls must start with a letter")), LIVE, "$.enthea.controls.<names>")
    assert "tightened" in row.change and (row.backward, row.forward, row.verdict) == (False, True, "breaking")


def test_pattern_inclusion_handles_anchors_and_undecidable() -> None:
    assert pattern_inclusion("^[a-z]+$", "^[a-z0-9]+$") == (True, False)
    assert pattern_inclusion("^a(b|c)$", "^a[bc]$") == (True, True)
    assert pattern_inclusion("abc", "b") == (True, False)          # unanchored: a search
    assert pattern_inclusion("^[a-z_-]{1,4}$", "^[a-z]{1,4}$") == (False, True)
    assert pattern_inclusion("^(?!tcp)x$", "^x$") == (None, None)   # lookahead: undecidable
    assert pattern_inclusion("^x{0,100}$", "^x{0,200}$") == (True, None)  # proven one way only


def test_additional_properties_opened_and_closed(repo: Repo) -> None:
    repo.edit(LIVE, lambda r: r["properties"]["bodytruth"].__setitem__("additionalProperties", True))
    row = only(repo.diff(repo.commit("open")), LIVE, "$.bodytruth.*")
    assert "opened" in row.change and (row.backward, row.forward, row.verdict) == (True, False, "compatible")

    repo.base = repo.commit("new base")
    repo.edit(LIVE, lambda r: r["properties"]["bodytruth"].__setitem__("additionalProperties", False))
    row = only(repo.diff(repo.commit("close")), LIVE, "$.bodytruth.*")
    assert "closed" in row.change and (row.backward, row.forward, row.verdict) == (False, True, "breaking")


def test_full_mode_rejects_an_optional_field(repo: Repo) -> None:
    frames = "director_frames.v2"
    repo.edit(frames, lambda r: r["$defs"]["HeartbeatFrame"]["properties"].__setitem__("note", {"type": "string"}))
    result = repo.diff(repo.commit("heartbeat note"))
    (row,) = [r for r in result.rows if r.contract == frames]
    assert row.mode == "FULL" and (row.backward, row.forward, row.verdict) == (True, False, "breaking")
    assert result.failed


def test_shared_definition_change_reaches_every_user(repo: Repo) -> None:
    repo.edit("common.v1", lambda r: r["$defs"]["Unit"].__setitem__("maximum", 2))
    result = repo.diff(repo.commit("wider unit"))
    assert only(result, "common.v1", "$defs.Unit").backward is True
    conf = only(result, "body_truth.v0", "$.confidence")
    assert "maximum 1 → 2 (loosened)" in conf.change and conf.verdict == "compatible"
    assert not result.failed


def test_new_versioned_file_may_break(repo: Repo) -> None:
    raw = yaml.safe_load(repo.path(PROOF).read_text())
    raw["$id"] = "lume:contract:mrt2_browser_proof:v2"
    raw["required"].append("session_id")
    raw["properties"]["session_id"] = {"type": "string"}
    repo.root.joinpath("contracts", "mrt2_browser_proof.v2.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    result = repo.diff(repo.commit("v2"))
    assert not result.failed
    v2 = rows(result, "mrt2_browser_proof.v2")
    assert v2[0][4] == "new version"
    assert ("$.session_id", "field added (required) to closed object", False, False, "breaking, new version") in v2


def test_new_id_in_place_counts_as_new_version(repo: Repo) -> None:
    def change(r: dict) -> None:
        r["$id"] = "lume:contract:mrt2_browser_proof:v9"
        r["$defs"]["ProofKind"]["enum"].remove("endpoint_smoke")
    repo.edit(PROOF, change)
    result = repo.diff(repo.commit("bump id"))
    assert not result.failed
    assert only(result, PROOF, "$.proof_kind").verdict == "breaking, new version"


def test_contract_added_and_removed(repo: Repo) -> None:
    shutil.copy(repo.path(PROOF), repo.root / "contracts" / "brand_new.v1.yaml")
    repo.edit("brand_new.v1", lambda r: r.__setitem__("$id", "lume:contract:brand_new:v1"))
    added = repo.diff(repo.commit("add"))
    assert only(added, "brand_new.v1", "$").verdict == "compatible" and not added.failed

    repo.base = repo.commit("new base")
    repo.path("brand_new.v1").unlink()
    removed = repo.diff(repo.commit("remove"))
    assert only(removed, "brand_new.v1", "$").verdict == "breaking" and removed.failed


def test_backward_table_rows_added_removed_changed(repo: Repo) -> None:
    inv = "safety_invariants.v1"

    def change(r: dict) -> None:
        gate = next(i for i in r["invariants"] if i["id"] == "SAFE-MAC5-GATE")
        gate["parameters"]["max_age_s"] = 172800
        r["invariants"].append({"id": "SAFE-NEW-RULE", "sentence": "A new rule.", "parameters": {}, "covers": []})
    repo.edit(inv, change)
    result = repo.diff(repo.commit("table edits"))
    changed = only(result, inv, "invariants[SAFE-MAC5-GATE].parameters.max_age_s")
    assert changed.change == "changed 86400 → 172800" and changed.verdict == "review"
    assert only(result, inv, "invariants[SAFE-NEW-RULE]").verdict == "compatible"
    assert not [r for r in result.rows if r.contract == inv and r.verdict == "breaking"]

    repo.base = repo.commit("new base")
    repo.edit(inv, lambda r: r["invariants"].pop())
    removed = repo.diff(repo.commit("drop rule"))
    row = only(removed, inv, "invariants[SAFE-NEW-RULE]")
    assert row.change == "row removed" and row.verdict == "breaking" and removed.failed


def test_table_rows_are_keyed_not_positional(repo: Repo) -> None:
    inv = "safety_invariants.v1"
    repo.edit(inv, lambda r: r["invariants"].reverse())
    result = repo.diff(repo.commit("reorder"))
    assert [r.change for r in result.rows if r.contract == inv] == ["rows reordered"]
    midi = "airdeck_midi_map.v1"
    repo.base = repo.commit("new base")
    repo.edit(midi, lambda r: next(x for x in r["rows"] if x["label"] == "cue" and x["deck"] == 2).__setitem__("note", 13))
    (row,) = [r for r in repo.diff(repo.commit("cue note")).rows if r.contract == midi]
    assert row.path == "rows[label=cue,deck=2].note" and row.verdict == "review"


def test_full_table_any_change_breaks(repo: Repo) -> None:
    layout = "lumf_layout.v1"
    repo.edit(layout, lambda r: r.__setitem__("cadence_hz", 120))
    result = repo.diff(repo.commit("faster"))
    row = only(result, layout, "cadence_hz")
    assert row.mode == "FULL" and row.verdict == "breaking" and result.failed

    repo.base = repo.commit("new base")
    repo.edit(layout, lambda r: r["window_samples_by_rate"].append({"sample_rate_hz": 96000, "window_samples": 1600}))
    row = only(repo.diff(repo.commit("row")), layout, "window_samples_by_rate[96000]")
    assert row.change == "row added" and row.verdict == "breaking"


def test_mode_change_is_listed_for_review(repo: Repo) -> None:
    repo.edit(PROOF, lambda r: r["x-lume"].__setitem__("compatibility", "NONE"))
    result = repo.diff(repo.commit("mode"))
    row = only(result, PROOF, "x-lume.compatibility")
    assert row.verdict == "review" and '"BACKWARD" → "NONE"' in row.change


def test_working_tree_is_the_default_head(repo: Repo) -> None:
    repo.edit(LIVE, lambda r: r["properties"]["mac4_sends_rekordbox_commands"].__setitem__("const", True))
    result = repo.diff()  # uncommitted
    assert result.head == "WORKTREE" and result.failed


def test_cli_markdown_json_and_exit_codes(repo: Repo, tmp_path: Path) -> None:
    repo.edit(PROOF, lambda r: r["$defs"]["ProofKind"]["enum"].remove("endpoint_smoke"))
    head = repo.commit("remove kind")
    out = tmp_path / "review.md"
    runner = CliRunner()
    res = runner.invoke(main, ["contracts", "diff", repo.base, head, "--repo", str(repo.root),
                               "--markdown", str(out)])
    assert res.exit_code == 1, res.output
    text = out.read_text()
    assert "| contract | path | change | backward | forward | verdict |" in text
    assert "| `mrt2_browser_proof.v1` (BACKWARD) | `$.proof_kind` |" in text and "**breaking**" in text

    res = runner.invoke(main, ["contracts", "diff", repo.base, repo.base, "--repo", str(repo.root), "--json"])
    assert res.exit_code == 0, res.output
    assert '"ok": true' in res.output

    res = runner.invoke(main, ["contracts", "diff", "no-such-ref", "--repo", str(repo.root)])
    assert res.exit_code == 2


def test_cli_table_fits_80_columns_and_cuts_nothing(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    repo.edit(PROOF, lambda r: r["$defs"]["ProofKind"]["enum"].remove("endpoint_smoke"))
    repo.edit("safety_invariants.v1", lambda r: r["invariants"].reverse())
    head = repo.commit("two changes")
    monkeypatch.setenv("COLUMNS", "80")
    res = CliRunner().invoke(main, ["contracts", "diff", repo.base, head, "--repo", str(repo.root)])
    assert res.exit_code == 1, res.output
    lines = res.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= 80, res.stdout
    text = "".join(line.strip() for line in lines)  # folded cells rejoin: nothing is cut
    assert "…" not in res.stdout and "mrt2_browser_proof.v1" in text and "rowsreordered" in text.replace(" ", "")


def test_the_review_table_goes_to_out_and_markdown_is_its_hidden_old_spelling(
        repo: Repo, tmp_path: Path) -> None:
    out = tmp_path / "review.md"  # test_cli_markdown_json_and_exit_codes still spells --markdown
    res = CliRunner().invoke(main, ["contracts", "diff", repo.base, "--repo", str(repo.root), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text().startswith("# Contract diff:")
    shown = CliRunner().invoke(main, ["contracts", "diff", "--help"]).output
    assert "--out" in shown and "--markdown" not in shown


def test_bad_yaml_in_history_is_bad_input(repo: Repo) -> None:
    repo.path(PROOF).write_text("a: [unclosed\n")
    head = repo.commit("broken")
    with pytest.raises(DiffInputError, match=r"mrt2_browser_proof\.v1\.yaml: not valid YAML"):
        repo.diff(head)


def compare(old: Any, new: Any):
    r = Resolver({})
    return SchemaComparer(r, r).compare(old, new, {"$defs": {}}, {"$defs": {}})


def test_schema_rules_without_git() -> None:
    (c,) = compare({"type": "string"}, {"anyOf": [{"type": "string"}, {"type": "null"}]})
    assert (c.backward, c.forward) == (True, False) and "alternative added" in c.change
    (c,) = compare({"not": {"const": 1}}, {"not": {"enum": [1, 2]}})      # wider `not` narrows
    assert (c.backward, c.forward) == (False, True)
    (c,) = compare({"type": "object"}, {"type": "object", "properties": {"x": {"type": "integer"}}})
    assert "open object" in c.change and (c.backward, c.forward) == (False, True)
    (c,) = compare({"multipleOf": 2}, {"multipleOf": 4})
    assert (c.backward, c.forward) == (False, True)
    assert compare({"type": "number", "description": "a"}, {"type": "number", "description": "b"}) == []
    (c,) = compare({"if": {"const": 1}, "then": {"type": "integer"}}, {"if": {"const": 2}, "then": {"type": "integer"}})
    assert (c.backward, c.forward) == (None, None)


def test_prose_in_a_full_table_is_review_not_breaking(repo: Repo) -> None:
    layout = "lumf_layout.v1"
    repo.edit(layout, lambda r: r["fields"][1].__setitem__("description", "Linear RMS, reworded."))
    result = repo.diff(repo.commit("reword"))
    (row,) = [r for r in result.rows if r.contract == layout]
    assert row.path == "fields[rms].description" and row.verdict == "review" and not result.failed


def test_label_promotion_is_listed_per_label(repo: Repo) -> None:
    labels = "labels.v1"
    repo.edit(labels, lambda r: next(x for x in r["labels"] if x["name"] == "cue").__setitem__(
        "promotion_status", "promoted"))
    result = repo.diff(repo.commit("promote cue"))
    row = only(result, labels, "labels[cue].promotion_status")
    assert row.change == 'changed "candidate" → "promoted"' and row.verdict == "review"


# --------------------------------------------------------------------------- the two kinds


def test_optional_field_added_or_removed_in_a_tolerant_contract_is_compatible_both_ways(repo: Repo) -> None:
    repo.edit(TOLERANT, lambda r: r["properties"].__setitem__("exposure_us", {"type": "integer"}))
    repo.edit(TOLERANT, lambda r: r["properties"].pop("frame_count"))
    result = repo.diff(repo.commit("add exposure_us, drop frame_count"))
    added, removed = only(result, TOLERANT, "$.exposure_us"), only(result, TOLERANT, "$.frame_count")
    assert (added.backward, added.forward, added.verdict) == (True, True, "compatible")
    assert (removed.backward, removed.forward, removed.verdict) == (True, True, "compatible")
    assert "tolerantly" in added.change and not result.failed


def test_a_new_required_field_in_a_tolerant_contract_still_breaks(repo: Repo) -> None:
    def change(r: dict) -> None:
        r["properties"]["exposure_us"] = {"type": "integer"}
        r["required"].append("exposure_us")
    repo.edit(TOLERANT, change)
    row = only(repo.diff(repo.commit("require exposure_us")), TOLERANT, "$.exposure_us")
    assert (row.backward, row.verdict) == (False, "breaking")


def test_a_changed_type_in_a_tolerant_contract_is_compared_as_ever(repo: Repo) -> None:
    repo.edit(TOLERANT, lambda r: r["properties"]["clip_count"].__setitem__("type", "string"))
    row = only(repo.diff(repo.commit("clip_count as text")), TOLERANT, "$.clip_count")
    assert (row.backward, row.forward) == (False, False)


def test_closing_a_tolerant_object_only_changes_warnings(repo: Repo) -> None:
    repo.edit(TOLERANT, lambda r: r.__setitem__("additionalProperties", True))
    result = repo.diff(repo.commit("open in the schema"))
    row = only(result, TOLERANT, "$.*")
    assert (row.backward, row.forward) == (True, True) and not result.failed


def test_the_producer_changing_is_reported(repo: Repo) -> None:
    repo.edit(LIVE, lambda r: r["x-lume"].__setitem__("producer", "external"))
    row = only(repo.diff(repo.commit("Mac4 writes it")), LIVE, "x-lume.producer")
    assert (row.backward, row.forward) == (True, False) and "tolerantly" in row.change
