"""Clients of the rehearsal's local AWS, IAM enforcement, and the task roles' credentials.

Before IAM is enforced the endpoint answers anyone (the CDK CLI deploys with made-up keys).
`enforce_iam` then creates one administrator for the rehearsal itself and turns on moto's
checks for every later call (``/moto-api/reset-auth``, as tests/faults/test_least_privilege.py
does): from then on the containers' calls succeed or fail on the policies of the deployed
task roles, whose credentials come from the local STS (``AssumeRole``, as ECS does for a task).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import boto3
import requests

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
ADMIN = "rehearsal-admin"
# How a container reaches the host's loopback from its own network (slirp4netns).
HOST_LOOPBACK_FROM_CONTAINER = "10.0.2.2"
QUEUE_URL = re.compile(r"https://sqs\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<path>\d{12}/.+)")

BOOTSTRAP_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
"""The keys the CDK CLI deploys with (any value works before IAM is enforced)."""


@dataclass
class LocalAws:
    """The endpoint on 127.0.0.1:`port`, as the host and as a container see it."""

    port: int
    region: str = REGION
    credentials: dict[str, str] = field(default_factory=lambda: dict(BOOTSTRAP_KEYS))

    @property
    def url(self) -> str:
        """`localhost`, not 127.0.0.1: moto's S3 would read `127` as a bucket name."""
        return f"http://localhost:{self.port}"

    @property
    def container_url(self) -> str:
        """The same endpoint from inside a container's network namespace."""
        return f"http://{HOST_LOOPBACK_FROM_CONTAINER}:{self.port}"

    def env(self) -> dict[str, str]:
        """What the CDK CLI and boto3 need to talk to this endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **self.credentials,
        }

    def client(self, service: str, credentials: dict[str, str] | None = None) -> Any:
        """A boto3 client of the endpoint with the rehearsal's (or the given) credentials."""
        keys = credentials or self.credentials
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=keys.get("AWS_SESSION_TOKEN"),
        )

    def enforce_iam(self) -> None:
        """An administrator for the rehearsal, then IAM checks on every call."""
        iam = self.client("iam")
        iam.create_user(UserName=ADMIN)
        iam.put_user_policy(
            UserName=ADMIN,
            PolicyName="rehearsal",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName=ADMIN)["AccessKey"]
        self.credentials = {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        }
        reset = requests.post(f"{self.url}/moto-api/reset-auth", data=b"0", timeout=10)
        reset.raise_for_status()

    def assume(self, role_arn: str, session: str) -> dict[str, str]:
        """Temporary credentials of `role_arn`, from the local STS."""
        answer = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session)
        keys = answer["Credentials"]
        return {
            "AWS_ACCESS_KEY_ID": keys["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"],
            "AWS_SESSION_TOKEN": keys["SessionToken"],
        }

    def localize(self, value: str) -> str:
        """An SQS queue URL in AWS's form, pointed at this endpoint (from a container)."""
        match = QUEUE_URL.fullmatch(value)
        return f"{self.container_url}/{match['path']}" if match else value
