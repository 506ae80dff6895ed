"""The alarm check: one of the stack's alarms, set to ALARM, reaches its SNS topic.

CloudWatch records each action it runs in the alarm's history (HistoryItemType Action), with
`actionState` Succeeded or Failed and the error: a topic whose policy does not let CloudWatch
publish fails there, and only there ("... is not authorized to perform: SNS:Publish"). So the
check sets the alarm's state with SetAlarmState, waits for that action's history item, and
sets the state back to OK. The topic's subscribers get both notifications, each naming
`taskqueue verify`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from taskqueue_cli.verify.context import Context
from taskqueue_cli.verify.report import NotVerifiableOffline, Verdict, failed, passed

ALARM = "AWS::CloudWatch::Alarm"
HISTORY_POLL_SECONDS = 5.0
# An alarm in ALARM already would run no action on SetAlarmState ALARM: try one in OK first.
STATE_PREFERENCE = {"OK": 0, "INSUFFICIENT_DATA": 1}
DESCRIBE_BATCH = 100  # DescribeAlarms takes at most 100 names


def alarm_notifies(context: Context) -> Verdict:
    """Set one alarm with an SNS action to ALARM; its history shows the action Succeeded."""
    declared = [logical_id for logical_id, _ in context.stack.of_type(ALARM)]
    if not declared:
        return failed("the stack declares no alarm")
    names = [context.stack.physical_ids[i] for i in declared if context.stack.created(i)]
    if not names:
        raise context.not_created(f"its {len(declared)} alarms ({ALARM})")
    cloudwatch = context.client("cloudwatch")
    topic = context.stack.outputs.get("AlarmTopicArn")
    alarm = choose_alarm(describe_alarms(cloudwatch, names), topic)
    if alarm is None:
        return failed(
            f"none of the {len(names)} alarms has an enabled SNS action and is not in ALARM"
        )
    name = alarm["AlarmName"]
    token = uuid.uuid4().hex[:12]
    reason = f"taskqueue verify {token}: does this alarm's notification reach its topic?"
    started = context.clock()
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=reason)
    try:
        updated = state_updated_ms(cloudwatch, name, reason)
        item = wait_for_action(context, cloudwatch, name, token, updated)
    finally:
        cloudwatch.set_alarm_state(
            AlarmName=name, StateValue="OK", StateReason=f"taskqueue verify {token}: back to OK"
        )
    waited = context.clock() - started
    if item is None:
        return failed(
            f"{name}: no action in its history {waited:.0f} s after SetAlarmState ALARM",
            "set back to OK",
        )
    return action_verdict(item, name, waited)


def describe_alarms(cloudwatch: Any, names: list[str]) -> list[dict[str, Any]]:
    """DescribeAlarms of the named metric alarms."""
    found: list[dict[str, Any]] = []
    for first in range(0, len(names), DESCRIBE_BATCH):
        batch = names[first : first + DESCRIBE_BATCH]
        found += cloudwatch.describe_alarms(AlarmNames=batch)["MetricAlarms"]
    return found


def choose_alarm(alarms: Iterable[dict[str, Any]], topic: str | None) -> dict[str, Any] | None:
    """An alarm whose ALARM action notifies `topic` (any SNS topic if None), actions enabled,
    not in ALARM; OK first, then by name."""

    def notifies(alarm: dict[str, Any]) -> bool:
        actions = alarm.get("AlarmActions") or []
        return any(arn == topic if topic else ":sns:" in arn for arn in actions)

    candidates = [
        alarm
        for alarm in alarms
        if notifies(alarm) and alarm.get("ActionsEnabled", True) and alarm["StateValue"] != "ALARM"
    ]
    candidates.sort(key=lambda a: (STATE_PREFERENCE.get(a["StateValue"], 2), a["AlarmName"]))
    return candidates[0] if candidates else None


def state_updated_ms(cloudwatch: Any, name: str, reason: str) -> int | None:
    """When CloudWatch recorded our state change (ms since the epoch, its clock), if it still
    shows it."""
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    if alarm.get("StateReason") != reason or "StateUpdatedTimestamp" not in alarm:
        return None
    updated: datetime = alarm["StateUpdatedTimestamp"]
    return round(updated.timestamp() * 1000)


def wait_for_action(
    context: Context, cloudwatch: Any, name: str, token: str, updated: int | None
) -> dict[str, Any] | None:
    """The history's Action item of our state change, once CloudWatch has run it."""
    deadline = context.clock() + context.alarm_timeout
    while True:
        try:
            answer = cloudwatch.describe_alarm_history(
                AlarmName=name,
                HistoryItemType="Action",
                ScanBy="TimestampDescending",
                MaxRecords=100,
            )
        except ClientError as error:
            if context.offline:
                code = error.response.get("Error", {}).get("Code", "?")
                raise NotVerifiableOffline(
                    f"the local endpoint answered DescribeAlarmHistory with {code}"
                ) from error
            raise
        item = our_action(answer["AlarmHistoryItems"], token, updated)
        if item is not None or context.clock() >= deadline:
            return item
        context.sleep(HISTORY_POLL_SECONDS)


def history_data(item: dict[str, Any]) -> dict[str, Any]:
    """An item's HistoryData (JSON), or {}."""
    try:
        data = json.loads(item.get("HistoryData") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def our_action(
    items: Iterable[dict[str, Any]], token: str, updated: int | None
) -> dict[str, Any] | None:
    """The Action item of our state change: its published message carries our reason's token,
    or its `stateUpdateTimestamp` is our change's."""
    for item in items:
        if item.get("HistoryItemType", "Action") != "Action":
            continue
        stamp = history_data(item).get("stateUpdateTimestamp")
        if token in (item.get("HistoryData") or "") or (updated is not None and stamp == updated):
            return item
    return None


def action_verdict(item: dict[str, Any], name: str, waited: float) -> Verdict:
    """Succeeded passes; anything else fails, with CloudWatch's summary (the error)."""
    data = history_data(item)
    state = data.get("actionState", "?")
    topic = data.get("notificationResource", "its topic")
    figure = f"{name} -> {topic}: action {state} ({waited:.0f} s)"
    summary = str(item.get("HistorySummary", ""))
    if state != "Succeeded":
        error = data.get("error")
        return failed(figure, f"{summary}{'' if not error or error in summary else f' {error}'}")
    return passed(figure, "set to ALARM and back to OK: its subscribers got both messages")
