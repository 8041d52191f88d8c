"""`simulate --reserved-ids` (what `helm test` sends): every id from the reserved test range."""

from __future__ import annotations

import orjson

from common.cli import build_parser
from simulator.lifecycle import RESERVED_IDS_END, RESERVED_IDS_START, generate


def test_every_id_of_a_reserved_scenario_is_in_the_reserved_range() -> None:
    scenario = generate(200, 50, seed=7, reserved_ids=True)
    ids = {int(event.entity_id) for event in scenario.events}
    for event in scenario.events:
        entity = orjson.loads(event.body)["entity"]
        ids.add(int(entity["id"]))
        customer = entity.get("customer_id")
        if customer is not None:
            ids.add(int(customer))
    assert len(ids) > 200
    assert all(RESERVED_IDS_START <= i < RESERVED_IDS_END for i in ids)
    plain = generate(200, 50, seed=7)
    assert all(int(event.entity_id) < RESERVED_IDS_START for event in plain.events)
    assert len(plain.events) == len(scenario.events)


def test_the_command_line_takes_the_option() -> None:
    args = build_parser().parse_args(["simulate", "--reserved-ids", "--transactions", "1"])
    assert args.reserved_ids is True
