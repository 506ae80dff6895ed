"""The pure parts of `taskqueue verify`: next fires from deployed schedules, the verdicts on
what AWS answered (target health, an alarm's action history), and the report."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from taskqueue.catalogue.schedules import next_fire
from taskqueue_cli.errors import CliError
from taskqueue_cli.target import Target
from taskqueue_cli.verify.alarm import action_verdict, alarm_notifies, choose_alarm, our_action
from taskqueue_cli.verify.context import Context
from taskqueue_cli.verify.report import (
    NotVerifiableOffline,
    Outcome,
    Result,
    exit_code,
    failed,
    passed,
    render,
    run_check,
    summary,
)
from taskqueue_cli.verify.resources import (
    dead_letter_queues,
    found_expiry,
    lifecycle_verdict,
    schedule_verdict,
    target_verdict,
)
from taskqueue_cli.verify.stack import DeployedStack, referenced

TOPIC = "arn:aws:sns:us-east-1:111122223333:taskqueue-dev-AlarmsTopic-AbC"
QUEUE_ARN = "arn:aws:sqs:us-east-1:111122223333:taskqueue-dev-TaskQueue-XyZ"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Next fires, as Scheduler counts them.


def test_a_rate_counts_from_the_schedules_creation_not_the_epoch() -> None:
    created = at("2026-12-03T07:35:16")

    fire = next_fire("rate(5 minutes)", "UTC", at("2026-12-03T07:51:00"), rate_start=created)

    assert fire == at("2026-12-03T07:55:16")
    # Without a start, the epoch (the local scheduler's clock-aligned fires).
    assert next_fire("rate(5 minutes)", "UTC", at("2026-12-03T07:51:00")) == at(
        "2026-12-03T07:55:00"
    )


def test_a_rate_fires_first_at_its_start() -> None:
    start = at("2026-12-24T00:00:00")

    assert next_fire("rate(1 day)", "UTC", at("2026-12-03T07:51:00"), rate_start=start) == start
    assert next_fire("rate(1 day)", "UTC", start, rate_start=start) == at("2026-12-25T00:00:00")


def test_a_cron_fires_on_its_time_zones_clock() -> None:
    # 03:00 in Berlin is 02:00 UTC in winter, 01:00 UTC in summer.
    expression = "cron(0 3 * * ? *)"

    assert next_fire(expression, "Europe/Berlin", at("2026-12-03T07:51:00")) == at(
        "2026-12-04T02:00:00"
    )
    assert next_fire(expression, "Europe/Berlin", at("2026-07-01T12:00:00")) == at(
        "2026-07-02T01:00:00"
    )


def get_schedule(**changes: Any) -> dict[str, Any]:
    """GetSchedule's answer for the shipped queue-report schedule."""
    answer = {
        "Name": "queue-report",
        "GroupName": "taskqueue-dev",
        "ScheduleExpression": "cron(0/5 * * * ? *)",
        "ScheduleExpressionTimezone": "UTC",
        "State": "ENABLED",
        "CreationDate": at("2026-12-03T07:35:16"),
        "Target": {"Arn": QUEUE_ARN},
    }
    return {**answer, **changes}


def test_an_enabled_schedule_aimed_at_the_task_queue_passes_with_its_next_fire() -> None:
    verdict = schedule_verdict(get_schedule(), queue_arn=QUEUE_ARN, now=at("2026-12-03T07:51:00"))

    assert verdict == passed("cron(0/5 * * * ? *) UTC, ENABLED, next fire 2026-12-03T07:55:00Z")


def test_a_rate_schedules_next_fire_is_counted_from_its_creation() -> None:
    found = get_schedule(ScheduleExpression="rate(5 minutes)")

    verdict = schedule_verdict(found, queue_arn=QUEUE_ARN, now=at("2026-12-03T07:51:00"))

    assert verdict.ok and verdict.figure.endswith("next fire 2026-12-03T07:55:16Z")


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"State": "DISABLED"}, "declares it ENABLED"),
        ({"Target": {"Arn": QUEUE_ARN + "-other"}}, "not the task queue"),
    ],
)
def test_a_disabled_or_misdirected_schedule_fails(changes: dict[str, Any], why: str) -> None:
    verdict = schedule_verdict(
        get_schedule(**changes), queue_arn=QUEUE_ARN, now=at("2026-12-03T07:51:00")
    )

    assert not verdict.ok and why in verdict.detail


def test_a_schedule_the_stage_pauses_passes_disabled_and_one_it_runs_must_be_enabled() -> None:
    paused = schedule_verdict(
        get_schedule(State="DISABLED"),
        queue_arn=QUEUE_ARN,
        now=at("2026-12-03T07:51:00"),
        declared_state="DISABLED",
    )
    resumed_by_hand = schedule_verdict(
        get_schedule(),
        queue_arn=QUEUE_ARN,
        now=at("2026-12-03T07:51:00"),
        declared_state="DISABLED",
    )

    assert paused == passed(
        "cron(0/5 * * * ? *) UTC, DISABLED, never fires while paused",
        "paused on purpose (the stage's pausedSchedules)",
    )
    assert not resumed_by_hand.ok and "declares it DISABLED" in resumed_by_hand.detail


# The load balancer's targets.


def test_targets_pass_when_all_are_healthy() -> None:
    assert target_verdict(Counter(healthy=2), [], offline=False) == passed("2 of 2 healthy")


def test_an_unhealthy_target_fails_with_its_reason() -> None:
    reasons = ["10.0.1.7: Health checks failed with these codes: [503]"]

    verdict = target_verdict(Counter(healthy=1, unhealthy=1), reasons, offline=False)

    assert verdict == failed("1 of 2 healthy (1 unhealthy)", reasons[0])


def test_a_target_still_starting_beside_a_healthy_one_passes() -> None:
    verdict = target_verdict(Counter(healthy=1, initial=1), [], offline=False)

    assert verdict.ok and verdict.figure == "1 of 2 healthy (1 initial)"


def test_no_target_fails_on_aws_and_is_not_verifiable_offline() -> None:
    assert target_verdict(Counter(), [], offline=False) == failed(
        "no target is registered in the web's target group"
    )
    with pytest.raises(NotVerifiableOffline, match="registers no task"):
        target_verdict(Counter(), [], offline=True)


# The alarm's action, as CloudWatch records it (HistoryItemType Action).


def action_item(state: str, updated: int, summary: str, error: str | None = None) -> dict[str, Any]:
    """An Action item of DescribeAlarmHistory, its HistoryData as CloudWatch writes it."""
    message = {"NewStateValue": "ALARM", "NewStateReason": "taskqueue verify 0123456789ab: ..."}
    data = {
        "error": error,
        "actionState": state,
        "notificationResource": TOPIC,
        "stateUpdateTimestamp": updated,
        "publishedMessage": json.dumps({"default": json.dumps(message)}),
    }
    return {
        "AlarmName": "taskqueue-dev-MonitoringDeadLetterMessages-1X2Y",
        "HistoryItemType": "Action",
        "HistorySummary": summary,
        "HistoryData": json.dumps(data),
    }


SUCCEEDED = action_item("Succeeded", 1796300000123, f"Successfully executed action {TOPIC}")
# What the alarm topic's policy bug (issue 20, defect 2) left in every alarm's history.
FAILED = action_item(
    "Failed",
    1796300000456,
    f'Failed to execute action {TOPIC}. Received error: "Resource: arn:aws:cloudwatch:us-east-1:'
    "111122223333:alarm:taskqueue-dev-MonitoringDeadLetterMessages-1X2Y is not authorized to "
    f"perform: SNS:Publish on resource: {TOPIC} because no resource-based policy allows the "
    'SNS:Publish action"',
)


def test_a_succeeded_action_passes() -> None:
    verdict = action_verdict(SUCCEEDED, "taskqueue-dev-MonitoringDeadLetterMessages-1X2Y", 4.2)

    assert verdict.ok
    assert verdict.figure == (
        f"taskqueue-dev-MonitoringDeadLetterMessages-1X2Y -> {TOPIC}: action Succeeded (4 s)"
    )


def test_a_failed_action_fails_with_cloudwatchs_error() -> None:
    verdict = action_verdict(FAILED, "taskqueue-dev-MonitoringDeadLetterMessages-1X2Y", 3.0)

    assert not verdict.ok
    assert "action Failed" in verdict.figure
    assert "is not authorized to perform: SNS:Publish" in verdict.detail


def test_our_action_is_the_one_of_our_state_change() -> None:
    older = action_item("Failed", 1796299000000, "an earlier, unrelated action")
    newer_ok = action_item("Succeeded", 1796300009999, "the OK that followed")
    newer_ok["HistoryData"] = newer_ok["HistoryData"].replace("0123456789ab", "ffffffffffff")
    older["HistoryData"] = older["HistoryData"].replace("0123456789ab", "eeeeeeeeeeee")

    # By the token in the published message; by the state change's timestamp if it has none.
    assert our_action([newer_ok, FAILED, older], "0123456789ab", None) is FAILED
    assert our_action([newer_ok, SUCCEEDED, older], "not-there", 1796300000123) is SUCCEEDED
    assert our_action([newer_ok, older], "0123456789ab", 1796300000123) is None


def alarm(name: str, state: str, actions: list[str], enabled: bool = True) -> dict[str, Any]:
    return {
        "AlarmName": name,
        "StateValue": state,
        "AlarmActions": actions,
        "ActionsEnabled": enabled,
    }


def test_the_alarm_tried_notifies_the_topic_and_is_not_in_alarm_ok_first() -> None:
    scaling = "arn:aws:autoscaling:us-east-1:111122223333:scalingPolicy:wake"
    alarms = [
        alarm("a-wake-from-zero", "OK", [scaling]),
        alarm("b-firing", "ALARM", [TOPIC]),
        alarm("c-disabled", "OK", [TOPIC], enabled=False),
        alarm("d-no-data", "INSUFFICIENT_DATA", [TOPIC]),
        alarm("e-dlq", "OK", [TOPIC]),
    ]

    assert choose_alarm(alarms, TOPIC)["AlarmName"] == "e-dlq"  # type: ignore[index]
    assert choose_alarm(alarms[:4], TOPIC)["AlarmName"] == "d-no-data"  # type: ignore[index]
    assert choose_alarm(alarms[:3], TOPIC) is None
    assert choose_alarm(alarms, None)["AlarmName"] == "e-dlq"  # type: ignore[index]


# Which queues are dead-letter queues: from the template.


def test_the_dead_letter_queues_are_the_ones_the_template_names_as_such() -> None:
    stack = DeployedStack(
        name="taskqueue-dev",
        outputs={},
        declared={
            "TaskQueue1": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {"Fn::GetAtt": ["TaskDlq2", "Arn"]},
                        "maxReceiveCount": 3,
                    }
                },
            },
            "TaskDlq2": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "SchedulesDlq3": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Schedule4": {
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {
                    "Name": "queue-report",
                    "Target": {
                        "Arn": {"Fn::GetAtt": ["TaskQueue1", "Arn"]},
                        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["SchedulesDlq3", "Arn"]}},
                    },
                },
            },
        },
        physical_ids={"TaskDlq2": "https://sqs/123/dlq", "TaskQueue1": "https://sqs/123/q"},
    )

    assert dead_letter_queues(stack) == {"task DLQ": "TaskDlq2", "schedules DLQ": "SchedulesDlq3"}
    assert stack.created("TaskDlq2") and not stack.created("SchedulesDlq3")
    assert stack.physical_id({"Ref": "TaskDlq2"}) == "https://sqs/123/dlq"
    assert stack.physical_id("taskqueue-dev") == "taskqueue-dev"
    assert referenced({"Fn::Join": ["", ["a"]]}) is None


# Running a check, and the report.


def offline_only() -> Any:
    raise NotVerifiableOffline("moto has no such API")


def test_a_check_the_endpoint_cannot_run_is_named_offline_and_fails_on_aws() -> None:
    check = ("alarm notification", offline_only)

    assert run_check(check, offline=True) == Result(
        "alarm notification", Outcome.OFFLINE, "moto has no such API"
    )
    assert run_check(check, offline=False) == Result(
        "alarm notification", Outcome.FAIL, "could not run on AWS: moto has no such API"
    )


def test_an_expected_error_fails_the_check_and_a_bug_keeps_its_traceback() -> None:
    def unreachable() -> Any:
        raise CliError("cannot reach the web service at http://x")

    def bug() -> Any:
        raise KeyError("bug")

    assert run_check(("task to SUCCESS", unreachable), offline=False) == Result(
        "task to SUCCESS", Outcome.FAIL, "cannot reach the web service at http://x"
    )
    with pytest.raises(KeyError):
        run_check(("task to SUCCESS", bug), offline=False)


def test_the_report_aligns_names_outcomes_and_figures_with_details_below() -> None:
    results = [
        Result("api key", Outcome.PASS, "client verify-1 in t (revoked at the end)"),
        Result("load balancer targets", Outcome.OFFLINE, "no target is registered"),
        Result("task DLQ", Outcome.FAIL, "1 message(s) in dlq", "1 visible, 0 in flight"),
    ]

    lines = [line for result in results for line in render(result, 21)]

    assert lines == [
        "api key                PASS                    client verify-1 in t (revoked at the end)",
        "load balancer targets  not verifiable offline  no target is registered",
        "task DLQ               FAIL                    1 message(s) in dlq",
        "                                               1 visible, 0 in flight",
    ]
    assert summary(results) == "1 passed, 1 failed, 1 not verifiable offline"
    assert exit_code(results) == 1
    assert exit_code(results[:2]) == 0  # not verifiable offline is not a failure
    assert summary(results[:1]) == "1 passed, 0 failed"


class FakeCloudWatch:
    """The alarm check's CloudWatch calls: one alarm on the topic; the history answers the
    action of each state change with `outcome` (Succeeded, or the topic policy's Failed)."""

    def __init__(self, outcome: dict[str, Any]) -> None:
        self.outcome = outcome
        self.states: list[tuple[str, str]] = []

    def describe_alarms(self, AlarmNames: list[str]) -> dict[str, Any]:
        state, reason = self.states[-1] if self.states else ("OK", "")
        found = {**alarm(AlarmNames[0], state, [TOPIC]), "StateReason": reason}
        return {"MetricAlarms": [found]}

    def set_alarm_state(self, AlarmName: str, StateValue: str, StateReason: str) -> None:
        self.states.append((StateValue, StateReason))

    def describe_alarm_history(self, **query: Any) -> dict[str, Any]:
        assert query["HistoryItemType"] == "Action"
        item = dict(self.outcome)
        # CloudWatch publishes the state change's reason in the item's message.
        item["HistoryData"] = item["HistoryData"].replace(
            "0123456789ab", self.states[0][1].split()[2].rstrip(":")
        )
        return {"AlarmHistoryItems": [item]}


def alarm_context(cloudwatch: FakeCloudWatch, *, offline: bool = False) -> Context:
    stack = DeployedStack(
        name="taskqueue-dev",
        outputs={"AlarmTopicArn": TOPIC},
        declared={"DeadLetterMessages1": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}}},
        physical_ids={"DeadLetterMessages1": "taskqueue-dev-DeadLetterMessages-1X2Y"},
    )
    target = Target(name="stack taskqueue-dev", web_url=None, queue_url="q", dlq_url="d")
    return Context(
        stack=stack,
        target=target,
        offline=offline,
        url_given=False,
        task_timeout=1,
        alarm_timeout=1,
        client_name="verify-test",
        clients={"cloudwatch": cloudwatch},
        sleep=lambda _: None,
    )


def test_the_alarm_check_fails_on_a_failed_notification_and_sets_the_alarm_back_to_ok() -> None:
    cloudwatch = FakeCloudWatch(FAILED)

    verdict = alarm_notifies(alarm_context(cloudwatch))

    assert not verdict.ok
    assert "is not authorized to perform: SNS:Publish" in verdict.detail
    assert [state for state, _ in cloudwatch.states] == ["ALARM", "OK"]
    assert cloudwatch.states[0][1].startswith("taskqueue verify ")


def test_the_alarm_check_passes_on_a_succeeded_notification() -> None:
    cloudwatch = FakeCloudWatch(SUCCEEDED)

    verdict = alarm_notifies(alarm_context(cloudwatch))

    assert verdict.ok and "action Succeeded" in verdict.figure
    assert [state for state, _ in cloudwatch.states] == ["ALARM", "OK"]


def test_a_resource_the_template_declares_and_the_stack_lacks_fails_on_aws() -> None:
    context = alarm_context(FakeCloudWatch(SUCCEEDED))
    context.stack.physical_ids.clear()

    with pytest.raises(CliError, match="lacks its 1 alarms"):
        alarm_notifies(context)
    context.offline = True
    with pytest.raises(NotVerifiableOffline, match="did not create its 1 alarms"):
        alarm_notifies(context)


def test_the_other_commands_start_without_importing_the_checks_or_celery() -> None:
    """`taskqueue status` of a running task must answer before the task ends: verify's checks
    import Celery (the schedules' expressions), so they are imported only when verify runs."""
    probe = (
        "import sys, taskqueue_cli.main; "
        "print(sorted({'celery', 'taskqueue_cli.verify.run'} & set(sys.modules)))"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"


def test_a_bucket_that_expires_its_objects_as_declared_passes() -> None:
    rules = [
        {
            "ID": "r",
            "Filter": {"Prefix": "results/"},
            "Status": "Enabled",
            "Expiration": {"Days": 1},
        },
        {
            "ID": "p",
            "Filter": {"Prefix": "params/"},
            "Status": "Enabled",
            "Expiration": {"Days": 35},
        },
    ]

    verdict = lifecycle_verdict("b", found_expiry(rules), {"results/": 1, "params/": 35})

    assert verdict.ok
    assert verdict.figure == "b: params/ expire after 35 d, results/ expire after 1 d"


@pytest.mark.parametrize(
    "found",
    [{}, {"results/": 2, "params/": 35}, {"params/": 35}],
    ids=["no-rule", "longer", "one-missing"],
)
def test_a_bucket_whose_objects_would_outlive_the_template_fails(found: dict[str, int]) -> None:
    verdict = lifecycle_verdict("b", found, {"results/": 1, "params/": 35})

    assert not verdict.ok
    assert "results/ 1 d" in verdict.detail


def test_a_disabled_rule_counts_as_none() -> None:
    rules = [{"Prefix": "results/", "Status": "Disabled", "Expiration": {"Days": 1}}]

    assert found_expiry(rules) == {}
