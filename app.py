#!/usr/bin/env python3
"""CDK app: one frozen `InfraConfig` from context, one stack, cdk-nag AwsSolutions checks.

npx cdk synth -c stage=dev            # or: make synth STAGE=prod
npx cdk deploy -c workerMaxCount=15   # changes the worker scaling bound only
"""

from __future__ import annotations

import sys
from pathlib import Path

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import ConfigError, InfraConfig
from infra.stack import TaskQueueStack

REPO_ROOT = Path(__file__).resolve().parent


def build(app: App) -> TaskQueueStack:
    """Compose the app: config from context, the stack, and the cdk-nag rule pack."""
    config = InfraConfig.from_context(app.node.get_all_context())
    stack = TaskQueueStack(app, config.stack_name, config=config, repo_root=REPO_ROOT)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


def main() -> None:
    app = App()
    try:
        build(app)
    except ConfigError as error:  # a context that cannot work: its message, no traceback
        sys.exit(f"cdk.json / -c context: {error}")
    app.synth()


if __name__ == "__main__":
    main()
