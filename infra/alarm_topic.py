"""The SNS topic the alarms notify, when the context names no existing one."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

CLOUDWATCH = "cloudwatch.amazonaws.com"
"""CloudWatch alarms publish to the topic. (EventBridge does too: CDK's `SnsTopic` rule
target grants it the key and the topic itself.)"""
PUBLISH_ACTIONS = ["sns:Publish"]
KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey*"]
"""What a service publishing to a KMS-encrypted topic needs of its key (SNS developer guide,
"Enable compatibility between event sources from AWS services and encrypted topics")."""


class AlarmTopic(Construct):
    """An SNS topic encrypted with its own KMS key, publishing over TLS only.

    A customer managed key, not SNS's AWS managed one: CloudWatch and EventBridge can only
    publish to an encrypted topic whose key policy lets them use the key, and the AWS
    managed key's policy cannot be changed. The topic's policy (the TLS-only statement)
    replaces SNS's default policy, which is what lets same-account alarms publish: it says
    so itself, for this account's alarms only. With `email`, that address is subscribed
    (AWS mails it a confirmation link; nothing is delivered until it is followed).
    """

    topic: sns.Topic
    key: kms.Key

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the alarm topic's messages",
            enable_key_rotation=True,
            pending_window=Duration.days(7),
            # Deleted with the stack (after the 7-day window), in prod too: a topic's
            # messages outlive it by seconds, so nothing stays encrypted under the key.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarms",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=KEY_ACTIONS,
                resources=["*"],  # in a key policy, "*" is this key
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="Task queue alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarms",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=PUBLISH_ACTIONS,
                resources=[self.topic.topic_arn],
                # CloudWatch names the alarm as the request's source (AWS knowledge center
                # "cloudwatch-receive-sns-for-alarm-trigger"): any alarm of this account in
                # this region, never another account's.
                conditions={"ArnLike": {"aws:SourceArn": _alarms_of_this_account(self)}},
            )
        )
        if email is not None:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))


def _alarms_of_this_account(scope: Construct) -> str:
    """arn:<partition>:cloudwatch:<region>:<account>:alarm:*"""
    return Stack.of(scope).format_arn(
        service="cloudwatch",
        resource="alarm",
        resource_name="*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
