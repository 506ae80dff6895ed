"""CloudWatch log groups of the two services, with a retention period."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

_RETENTION: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
}


def retention_days(days: int) -> logs.RetentionDays:
    """The `RetentionDays` member for a number of days CloudWatch Logs accepts."""
    try:
        return _RETENTION[days]
    except KeyError:
        raise ValueError(f"unsupported log retention: {days} days") from None


class ServiceLogGroups(Construct):
    """One log group per service; the containers log JSON lines to them (awslogs)."""

    web: logs.LogGroup
    worker: logs.LogGroup

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.web = logs.LogGroup(self, "Web", retention=retention, removal_policy=removal_policy)
        self.worker = logs.LogGroup(
            self, "Worker", retention=retention, removal_policy=removal_policy
        )
