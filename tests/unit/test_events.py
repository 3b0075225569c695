"""events/ holds one realistic event per function; each must parse into what its handler expects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amsync.models.messages import MagentoOrderWrite, SyncRequest
from amsync.models.push import PushNotification
from amsync_local.make_events import build

EVENTS = Path(__file__).resolve().parents[2] / "events"
MODELS = {"order_sync": SyncRequest, "magento_writer": MagentoOrderWrite, "fulfilment": SyncRequest,
          "inventory": SyncRequest}


@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS.glob("*.json")))
def test_event_parses_into_its_functions_model(name: str) -> None:
    event = json.loads((EVENTS / name).read_text())
    if name.startswith("webhook"):
        assert event["version"] == "2.0" and event["requestContext"]["http"]["method"] == "POST"
        push = PushNotification.model_validate(json.loads(event["body"]))
        assert push.inserted and push.id and push.query
    elif name.startswith("reconciler"):
        assert event["detail-type"] == "Scheduled Event"
    else:
        model = next(m for prefix, m in MODELS.items() if name.startswith(prefix))
        for record in event["Records"]:
            assert record["eventSource"] == "aws:sqs" and record["messageId"] and record["receiptHandle"]
            model.model_validate_json(record["body"])


def test_events_folder_is_what_the_generator_makes() -> None:
    # events/ is generated (amsync_local.make_events); a hand edit or a model change must regenerate it
    def payload(event: dict[str, object]) -> object:  # what a handler reads (ids and times differ per build)
        if "Records" in event:
            return [r["body"] for r in event["Records"]]  # type: ignore[attr-defined]
        return event.get("body", event.get("detail-type"))

    for name, event in build().items():
        assert payload(json.loads((EVENTS / name).read_text())) == payload(json.loads(json.dumps(event))), name


def test_the_walkthrough_variant_reads_as_an_inserted_row() -> None:
    event = json.loads((EVENTS / "webhook_push_walkthrough_variant.json").read_text())
    push = PushNotification.model_validate(json.loads(event["body"]))
    assert push.query == "SALESORDER STATUS" and push.timestamp == 133428739107273074
    assert push.inserted[0]["OrderID"] == "SOT00024" and push.deleted == []
