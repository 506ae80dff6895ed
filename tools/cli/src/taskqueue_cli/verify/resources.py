"""The checks of the stack's AWS resources: the load balancer's targets, each schedule, each
dead-letter queue. Which resources to check comes from the stack's template."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from functools import partial
from typing import Any

from botocore.exceptions import ClientError
from taskqueue.catalogue.schedules import next_fire, scheduled_time_text
from taskqueue.stores.queue_depth import read_depth

from taskqueue_cli.verify.context import Context
from taskqueue_cli.verify.report import Check, NotVerifiableOffline, Verdict, failed, passed
from taskqueue_cli.verify.stack import DeployedStack, referenced

TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
SCHEDULE = "AWS::Scheduler::Schedule"
QUEUE = "AWS::SQS::Queue"
HEALTHY = "healthy"


def targets_healthy(context: Context) -> Verdict:
    """The web's target group has a healthy target and no unhealthy one (DescribeTargetHealth)."""
    groups = [logical_id for logical_id, _ in context.stack.of_type(TARGET_GROUP)]
    if not groups:
        return failed("the stack declares no target group")
    elbv2 = context.client("elbv2")
    states: Counter[str] = Counter()
    reasons: list[str] = []
    for logical_id in groups:
        arn = context.stack.physical_ids.get(logical_id)
        if arn is None:
            raise context.not_created(f"target group {logical_id}")
        for target in elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]:
            health = target["TargetHealth"]
            states[health["State"]] += 1
            if health["State"] != HEALTHY:
                reasons.append(f"{target['Target']['Id']}: {health.get('Description', '')}")
    return target_verdict(states, reasons, offline=context.offline)


def target_verdict(states: Counter[str], reasons: list[str], *, offline: bool) -> Verdict:
    """Pass when at least one target is healthy and none is unhealthy."""
    total = sum(states.values())
    if total == 0:
        if offline:
            raise NotVerifiableOffline(
                "no target is registered: the local endpoint's ECS registers no task with the"
                " load balancer (the rehearsal publishes the web on 127.0.0.1)"
            )
        return failed("no target is registered in the web's target group")
    others = ", ".join(
        f"{count} {state}" for state, count in sorted(states.items()) if state != HEALTHY
    )
    figure = f"{states[HEALTHY]} of {total} healthy" + (f" ({others})" if others else "")
    detail = "; ".join(reasons)
    if states[HEALTHY] == 0 or states["unhealthy"]:
        return failed(figure, detail)
    return passed(figure, detail)


def schedule_checks(context: Context) -> list[Check]:
    """One check for each schedule the stack declares."""
    return [
        (f"schedule {schedule_name(context.stack, logical_id, properties)}",
         partial(schedule_exists, context, logical_id, properties))
        for logical_id, properties in context.stack.of_type(SCHEDULE)
    ]  # fmt: skip


def schedule_name(stack: DeployedStack, logical_id: str, properties: dict[str, Any]) -> str:
    """The schedule's name: the template's Name, else its physical id (Ref is the name)."""
    name = properties.get("Name")
    return name if isinstance(name, str) else stack.physical_ids.get(logical_id, logical_id)


def schedule_exists(context: Context, logical_id: str, properties: dict[str, Any]) -> Verdict:
    """The schedule exists in Scheduler, enabled, aimed at the task queue; its next fire."""
    name = schedule_name(context.stack, logical_id, properties)
    if not context.stack.created(logical_id):
        raise context.not_created(f"schedule {name} ({SCHEDULE})")
    group = context.stack.physical_id(properties.get("GroupName", "default")) or "default"
    try:
        found = context.client("scheduler").get_schedule(Name=name, GroupName=group)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return failed(f"no schedule {group}/{name} in EventBridge Scheduler")
        raise
    return schedule_verdict(
        found,
        queue_arn=queue_arn(context),
        now=datetime.now(UTC),
        declared_state=properties.get("State", ENABLED),
    )


ENABLED = "ENABLED"


def schedule_verdict(
    found: dict[str, Any], *, queue_arn: str | None, now: datetime, declared_state: str = ENABLED
) -> Verdict:
    """GetSchedule's answer: in the state the template declares (ENABLED, or DISABLED for a
    stage's `pausedSchedules`) and sending to the task queue passes; the next fire."""
    expression = found["ScheduleExpression"]
    timezone = found.get("ScheduleExpressionTimezone") or "UTC"
    state = found.get("State")
    target = found.get("Target", {}).get("Arn")
    if state == ENABLED:
        start = found.get("StartDate") or found.get("CreationDate")
        fire = next_fire(expression, timezone, now, rate_start=start)
        figure = f"{expression} {timezone}, {state}, next fire {scheduled_time_text(fire)}"
    else:
        figure = f"{expression} {timezone}, {state}, never fires while paused"
    if state != declared_state:
        return failed(figure, f"the template declares it {declared_state}")
    if queue_arn is not None and target != queue_arn:
        return failed(figure, f"it sends to {target}, not the task queue {queue_arn}")
    if state != ENABLED:
        return passed(figure, "paused on purpose (the stage's pausedSchedules)")
    return passed(figure)


def queue_arn(context: Context) -> str | None:
    """The task queue's ARN (SQS GetQueueAttributes of QueueUrl)."""
    answer = context.client("sqs").get_queue_attributes(
        QueueUrl=context.target.queue_url, AttributeNames=["QueueArn"]
    )
    arn = answer.get("Attributes", {}).get("QueueArn")
    return str(arn) if arn else None


# What a message in each dead-letter queue is, and where to look.
DLQ_HINTS = {
    "task DLQ": "tasks that failed MAX_RECEIVE_COUNT times: `taskqueue dlq show` lists them",
    "schedules DLQ": "schedule fires Scheduler could not deliver to the task queue",
}


def dead_letter_queues(stack: DeployedStack) -> dict[str, str]:
    """Label -> logical id of each queue the template names as a dead-letter target: the task
    queue's (its RedrivePolicy) and the schedules' (their DeadLetterConfig)."""
    found: dict[str, str] = {}
    for _, properties in stack.of_type(QUEUE):
        target = referenced(properties.get("RedrivePolicy", {}).get("deadLetterTargetArn"))
        if target is not None:
            found.setdefault("task DLQ", target)
    for _, properties in stack.of_type(SCHEDULE):
        target = referenced(properties.get("Target", {}).get("DeadLetterConfig", {}).get("Arn"))
        if target is not None:
            found.setdefault("schedules DLQ", target)
    return found


def dead_letter_checks(context: Context) -> list[Check]:
    """One check for each dead-letter queue of the stack."""
    return [
        (label, partial(queue_empty, context, logical_id, DLQ_HINTS[label]))
        for label, logical_id in dead_letter_queues(context.stack).items()
    ]


def queue_empty(context: Context, logical_id: str, hint: str) -> Verdict:
    """The queue holds no message (visible, in flight or delayed)."""
    url = context.stack.physical_ids.get(logical_id)
    if url is None:
        raise context.not_created(f"queue {logical_id}")
    depth = read_depth(context.client("sqs"), url)
    name = url.rstrip("/").rsplit("/", 1)[-1]
    figure = f"{depth.total} message(s) in {name}"
    if depth.total:
        counts = f"{depth.visible} visible, {depth.in_flight} in flight, {depth.delayed} delayed"
        return failed(figure, f"{counts}: {hint}")
    return passed(figure)


BUCKET = "AWS::S3::Bucket"


def payload_bucket_checks(context: Context) -> list[Check]:
    """One check for the payload bucket the stack declares (its only bucket)."""
    return [
        ("payload bucket", partial(payload_bucket_ready, context, logical_id, properties))
        for logical_id, properties in context.stack.of_type(BUCKET)
    ]


def declared_expiry(properties: dict[str, Any]) -> dict[str, int]:
    """Prefix -> days of the template's lifecycle rules."""
    rules = properties.get("LifecycleConfiguration", {}).get("Rules", [])
    return {rule["Prefix"]: int(rule["ExpirationInDays"]) for rule in rules if "Prefix" in rule}


def found_expiry(rules: list[dict[str, Any]]) -> dict[str, int]:
    """Prefix -> days of the enabled rules GetBucketLifecycleConfiguration answers."""
    return {
        str(rule.get("Filter", {}).get("Prefix", rule.get("Prefix"))): int(
            rule["Expiration"]["Days"]
        )
        for rule in rules
        if rule.get("Status") == "Enabled" and "Days" in rule.get("Expiration", {})
    }


def payload_bucket_ready(context: Context, logical_id: str, properties: dict[str, Any]) -> Verdict:
    """The bucket answers (HeadBucket) and expires its objects as the template declares."""
    name = context.stack.physical_ids.get(logical_id)
    if name is None:
        raise context.not_created(f"payload bucket {logical_id}")
    s3 = context.client("s3")
    try:
        s3.head_bucket(Bucket=name)
        rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code == "NoSuchLifecycleConfiguration":
            rules = []
        elif code in {"404", "NoSuchBucket"}:
            return failed(f"no bucket {name}")
        else:
            raise
    if not rules and context.offline:
        raise NotVerifiableOffline(
            f"{name} exists, but the local endpoint's CloudFormation sets no lifecycle rules"
        )
    return lifecycle_verdict(name, found_expiry(rules), declared_expiry(properties))


def lifecycle_verdict(name: str, found: dict[str, int], declared: dict[str, int]) -> Verdict:
    """Pass when every prefix expires after the days the template declares."""
    figure = f"{name}: " + ", ".join(
        f"{prefix} expire after {days} d" for prefix, days in sorted(found.items())
    )
    if not found:
        figure = f"{name}: no lifecycle rule"
    if found != declared:
        wanted = ", ".join(f"{prefix} {days} d" for prefix, days in sorted(declared.items()))
        return failed(figure, f"the template declares {wanted}: objects would outlive it")
    return passed(figure)
