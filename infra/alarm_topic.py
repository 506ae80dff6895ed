"""The SNS topic the alarms notify, when the context names no existing one."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

CLOUDWATCH = "cloudwatch.amazonaws.com"
"""CloudWatch alarms publish to the topic. (EventBridge does too: CDK's `SnsTopic` rule
target grants it the key and the topic itself.)"""


class AlarmTopic(Construct):
    """An SNS topic encrypted with its own KMS key, publishing over TLS only.

    A customer managed key, not SNS's AWS managed one: CloudWatch and EventBridge can only
    publish to an encrypted topic whose key policy lets them use the key, and the AWS
    managed key's policy cannot be changed. With `email`, that address is subscribed (AWS
    mails it a confirmation link; nothing is delivered until it is followed).
    """

    topic: sns.Topic
    key: kms.Key

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        email: str | None,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the alarm topic's messages",
            enable_key_rotation=True,
            pending_window=Duration.days(7),
            removal_policy=removal_policy,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarms",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
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
        if email is not None:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
