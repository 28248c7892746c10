"""AirDeck deck zones (airdeck_deck_zones.v1): load them and test which zone a hand is in."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lume.runtime import core as contracts
from lume.runtime.core import ENVELOPE_KEYS

ZONES_CONTRACT = "airdeck_deck_zones.v1"


class ZonesError(ValueError):
    """A deck-zones file or contract name that cannot be used (names the file and field)."""


@dataclass(frozen=True)
class DeckZones:
    frame: str  # mirrored_preview | raw_camera: orientation of every 2-D coordinate we write
    boxes: tuple[tuple[str, tuple[float, float, float, float]], ...]  # (zone, (x0, y0, x1, y1))
    min_hand_confidence: float
    source: str  # where the zones came from, for messages

    def zone_of(self, x: float, y: float) -> str | None:
        """The zone whose box holds the point (edges included), or None."""
        for name, (x0, y0, x1, y1) in self.boxes:
            if x0 <= x <= x1 and y0 <= y <= y1:
                return name
        return None


def load_deck_zones(spec: str | Path | None = None) -> DeckZones:
    """Zones from the shipped contract (default), another contract stem, or a YAML/JSON file."""
    if spec is None:
        spec = ZONES_CONTRACT
    path = Path(spec)
    if path.is_file():
        try:
            raw = contracts.read_yaml(path)  # a bounded yaml_document input
        except contracts.InputError as exc:
            raise ZonesError(f"cannot read deck zones: {exc}") from exc
        if not isinstance(raw, dict):
            raise ZonesError(f"{path}: deck zones must be a mapping [{ZONES_CONTRACT}]")
        data = {k: v for k, v in raw.items() if k not in ENVELOPE_KEYS}
        where = str(path)
    else:
        try:
            c = contracts.get(str(spec))
        except contracts.ContractError as exc:
            raise ZonesError(f"{spec}: neither a file nor a contract ({exc})") from exc
        if c.x.get("meta") != contracts.get(ZONES_CONTRACT).x.get("meta"):
            raise ZonesError(f"{spec}: contract {c.stem} is not a deck-zones table [{ZONES_CONTRACT}]")
        data, where = contracts.rule_data(c.stem), str(c.path)
    try:
        model = contracts.model_for(ZONES_CONTRACT).model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ZonesError(f"{where}: {field}: {err['msg']} [{ZONES_CONTRACT}]") from exc
    boxes = []
    for name in type(model.zones).model_fields:
        b = getattr(model.zones, name).box
        if not (b.x_min < b.x_max and b.y_min < b.y_max):
            raise ZonesError(f"{where}: zones.{name}.box: min must be below max [{ZONES_CONTRACT}]")
        boxes.append((name, (b.x_min, b.y_min, b.x_max, b.y_max)))
    for i, (a, (ax0, ay0, ax1, ay1)) in enumerate(boxes):  # one hand is never in two decks
        for b_name, (bx0, by0, bx1, by1) in boxes[i + 1:]:
            if min(ax1, bx1) >= max(ax0, bx0) and min(ay1, by1) >= max(ay0, by0):
                raise ZonesError(f"{where}: zones.{a} and zones.{b_name} overlap [{ZONES_CONTRACT}]")
    return DeckZones(model.frame, tuple(boxes), model.hand_raise.min_hand_confidence, where)


def as_dict(zones: DeckZones) -> dict[str, Any]:
    return {"frame": zones.frame, "zones": {n: list(b) for n, b in zones.boxes}, "source": zones.source}
