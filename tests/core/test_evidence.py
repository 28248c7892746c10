"""Evidence rows go to a report (`to_dict`) and come back from a cache (`from_dict`) unchanged."""
from __future__ import annotations

import pytest

from lume.runtime.core import Evidence, held, unchecked, violated, warned


@pytest.mark.parametrize("make", [held, warned, violated, unchecked])
def test_a_row_comes_back_as_it_was_written(make):
    row = make("a message", file="a/b.json", field="x.y", expected={"max": 3}, found=[1, 2])
    assert Evidence.from_dict(row.to_dict()) == row


@pytest.mark.parametrize("bad", [{"outcome": "passed"}, {"message": None, "outcome": "maybe"}, {}])
def test_a_row_that_no_evidence_wrote_is_refused(bad):
    with pytest.raises((KeyError, ValueError)):
        Evidence.from_dict(bad)
