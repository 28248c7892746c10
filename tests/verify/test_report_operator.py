"""Reports an operator acts on (issue 16 item 1): the verdict first, one line per failing or
inconclusive check with what failed, where and the next step (check_remediation.v1), failing rows
first and highlighted, passing rows folded, no contradictory rows, counts that say what they
count, the contract table folded, the key id labelled, the completion-gate report titled as one
with "Mac4 unreachable" as its own state. The rendered page is looked at in headless Chromium
(the Debian package, through playwright) at 1280 px and a phone's width, without JavaScript."""
from __future__ import annotations

import base64
import json
import re
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from verify_roots import SESSION, build_root

from lume.runtime.cli import main
from lume.runtime.core import check_remediation, next_step
from lume.verifiers import all_verifiers

GATE_CHECKS = {"gate.mac4_first.preflight", "gate.mac4_first.full_audit", "gate.mac4_first.body_truth",
               "gate.mac4_first.live_output_state", "gate.mac4_first.mrt2_proof",
               "gate.mac4_first.device_topology"}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "reports" / "screenshots"  # gitignored
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def lume(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def predicate_of(report: Path) -> dict:
    return json.loads(base64.b64decode(json.loads(report.read_text())["payload"]))["predicate"]


def _red_root(tmp_path: Path) -> Path:
    """A changed source (storage.integrity) and a bundle that lets Mac4 command Rekordbox."""
    root = build_root(tmp_path / "root")
    source = root / "_processed" / SESSION / "sources" / "mac4_tier0" / "session.json"
    source.write_bytes(source.read_bytes() + b" ")
    bundle = root / "_processed" / SESSION / "bundle.json"
    doc = json.loads(bundle.read_text())
    doc["safety"]["mac4_can_command_rekordbox"] = True
    bundle.write_text(json.dumps(doc))
    return root


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """A GREEN and a RED readiness report and a completion-gate report with Mac4 unreachable."""
    tmp = tmp_path_factory.mktemp("reports")
    with pytest.MonkeyPatch.context() as mp:  # the module's own key folder, trust file and cache
        for name, sub in (("LUME_KEY_DIR", "keys"), ("LUME_CACHE_DIR", "cache"), ("XDG_CONFIG_HOME", "config")):
            mp.setenv(name, str(tmp / "home" / sub))
        mp.delenv("LUME_TRUST_FILE", raising=False)
        mp.delenv("LUME_CONFIG", raising=False)
        green, red, gate = tmp / "green" / "r.json", tmp / "red" / "r.json", tmp / "gate" / "r.json"
        assert lume("verify", build_root(tmp / "g"), "-o", green).exit_code == 0
        assert lume("verify", _red_root(tmp), "-o", red).exit_code == 1
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nobody listens there
        r = lume("gate", "mac4-first", "--host", "127.0.0.1", "--ssh-port", port, "--bodytruth-port", port,
                 "--bridge-port", port, "-o", gate)
        assert r.exit_code == 1, r.output
    return {"green": green, "red": red, "gate": gate}


# ------------------------------------------------------------------------------- the table
def test_every_remediation_names_a_real_check():
    known = set(all_verifiers()) | GATE_CHECKS
    assert set(check_remediation().checks) <= known


def test_next_step_picks_the_step_for_the_evidence_and_fills_its_fields():
    changed = {"file": "_processed/s/sources/a.json", "field": "_manifests/s.zip.json: contents a.json",
               "message": "source differs from the uploaded archive member: sha256 differs"}
    text = next_step("storage.integrity", "fail", changed, root="/r")
    assert "_incoming" in text and "_processed/s/sources/a.json" in text and "lume verify /r" in text
    assert next_step("storage.integrity", "pass", changed) is None
    assert "{" not in next_step("no.such.check", "inconclusive", {})  # the default, filled


# ----------------------------------------------------------------------------- the renderings
def test_red_report_says_what_to_do_first(reports):
    p = predicate_of(reports["red"])
    failing = sorted(c["id"] for c in p["checks"] if c["status"] != "pass")
    assert {"storage.integrity", "authority.k11_only.static"} <= set(failing)
    for text in (reports["red"].with_suffix(".md").read_text(), reports["red"].with_suffix(".html").read_text()):
        html = text.startswith("<")
        todo = text.index("What to do")
        assert todo < text.index("<th>verdict</th>" if html else "| verdict |")  # verdict, what to do, the rest
        for check in failing:
            assert text.index(check, todo) < text.index("About this report")
        assert "Restore" in text and "_incoming" in text  # the changed source: re-extract it
        assert "Re-create the bundle on K11" in text  # the authority violation
        assert text.index("Contracts checked against") > text.index("<h2>Evidence" if html else "### ")
        assert "<details" in text[text.index("Contracts checked against") - 80:]


def test_no_row_says_unchanged_of_the_source_that_changed(reports):
    p = predicate_of(reports["red"])
    rows = next(c for c in p["checks"] if c["id"] == "storage.integrity")["evidence"]
    assert any(e.get("outcome") == "violated" and "source differs" in e["message"] for e in rows)
    unchanged = [e["message"] for e in rows if "unchanged since upload" in e["message"]]
    assert unchanged and all(re.match(r"\d+ of \d+ extracted", m) and "changed" in m for m in unchanged)
    assert not any(re.match(r"\d+ extracted source file\(s\) unchanged", m) for m in unchanged)
    matched = [e for e in rows if "recorded files and archives" in e["message"]]
    assert all(e["found"] < e["expected"] for e in matched)  # "2 of 3 … match", never "all match"


def test_counts_say_what_they_count(reports):
    p = predicate_of(reports["green"])
    (row,) = [e for c in p["checks"] if c["id"] == "schema.conformance" for e in c["evidence"]
              if "documents in" in e["message"]]
    assert re.fullmatch(r"\d+ documents in \d+ files checked against their contracts, 0 violations", row["message"])
    assert (row["expected"], row["found"]) == (0, 0)


def test_failing_rows_first_and_marked_passing_rows_folded(reports):
    html = reports["red"].with_suffix(".html").read_text()
    block = html[html.index('id="check-storage.integrity"'):]
    block = block[:block.index("</details>\n<details class=\"check")]
    assert block.index('class="violated"') < block.index('class="held"')
    assert block.index('class="violated"') < block.index('<details class="held">')
    green = reports["green"].with_suffix(".html").read_text()
    assert '<details class="check pass"' in green and "<details class=\"check pass\" id" in green
    assert " open>" not in green  # a green report opens nothing


def test_green_explains_null_and_labels_the_key(reports):
    for text in (reports["green"].with_suffix(".md").read_text(), reports["green"].with_suffix(".html").read_text()):
        assert "GREEN" in text and "What to do" not in text
        assert "not judged: no completion gate ran in this report" in text
        assert "signing key id" in text and "SHA-256 (hex) of the raw 32-byte Ed25519 public key" in text


def test_gate_report_is_titled_and_unreachable_is_its_own_state(reports):
    p = predicate_of(reports["gate"])
    assert p["gate"]["full_audit_ran"] is False
    for text in (reports["gate"].with_suffix(".md").read_text(), reports["gate"].with_suffix(".html").read_text()):
        assert "Mac4-first completion-gate report" in text and "readiness report" not in text.split("\n")[5]
        assert "MAC4 UNREACHABLE" in text
        assert "not judged (Mac4 unreachable)" in text  # not "rig_safe false, data_sound false"
        assert "lume sim mac4" in text  # the next step says how to rehearse without Mac4


# -------------------------------------------------------------------------------- in Chromium
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install -y chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _page(browser, path: Path, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height}, java_script_enabled=False)
    page = context.new_page()
    page.goto(path.with_suffix(".html").as_uri())
    return context, page


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
    print(f"screenshot: {SCREENSHOTS / name}")


@pytest.mark.parametrize("width,height", [(1280, 800), (390, 844)])
def test_red_report_in_chromium(browser, reports, width, height):
    context, page = _page(browser, reports["red"], width, height)
    try:
        items = page.locator("#todo li")
        assert items.count() >= 2
        for i in range(items.count()):  # every failing check's line is above the fold
            box = items.nth(i).bounding_box()
            assert box is not None and box["y"] + min(box["height"], 40) <= height, (i, box, width)
        assert page.locator("#verdict").bounding_box()["y"] < 100
        violated = page.locator("#check-storage\\.integrity tr.violated").first
        assert violated.is_visible()  # the failing check's rows are open …
        assert not page.locator("#check-storage\\.integrity tr.held").first.is_visible()  # … passing folded
        assert not page.locator("#contracts table").is_visible()
        assert not page.locator("details.check.pass tr").first.is_visible()
        # nothing is wider than the screen (tables scroll inside their box on a phone)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        _shot(page, f"red-{width}.png")
    finally:
        context.close()


@pytest.mark.parametrize("width,height", [(1280, 800), (390, 844)])
def test_green_report_in_chromium(browser, reports, width, height):
    context, page = _page(browser, reports["green"], width, height)
    try:
        assert page.locator("#verdict .v.green").is_visible()
        assert page.locator("#todo").count() == 0
        assert page.locator("details.check").count() > 5
        assert not page.locator("details.check tr").first.is_visible()  # every check folded
        assert not page.locator("#contracts table").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        _shot(page, f"green-{width}.png")
    finally:
        context.close()


def test_gate_report_in_chromium(browser, reports):
    context, page = _page(browser, reports["gate"], 1280, 800)
    try:
        assert "MAC4 UNREACHABLE" in page.locator("#verdict").inner_text()
        assert page.locator("#todo li").first.is_visible()
        _shot(page, "gate-unreachable-1280.png")
    finally:
        context.close()



# ------------------------------------------------------------------------------------- the CLI
def test_verify_output_columns_line_up_and_say_the_next_step(tmp_path):
    r = lume("verify", _red_root(tmp_path), "-o", tmp_path / "r.json")
    assert r.exit_code == 1
    rows = [line for line in r.output.splitlines()
            if re.match(r"^\s+(pass|FAIL|INCONCLUSIVE|no rig|n/a|not run)  \S", line)]
    assert {"pass", "FAIL", "no rig"} <= {line.split()[0] if line.split()[0] != "no" else "no rig" for line in rows}
    starts = {re.search(r"  (\S+)(?: \(|$)", line).start(1) for line in rows}
    assert len(starts) == 1, rows  # the check ids start in one column whatever the status word
    assert "next: Sources are never edited" in r.output.replace("\n      ", " ")
