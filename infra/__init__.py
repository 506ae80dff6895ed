"""AWS CDK infrastructure of the task queue: one construct per logical unit.

`app.py` builds one frozen `InfraConfig` from CDK context and hands it to
`TaskQueueStack`, which composes the constructs of this package and wires the grants.
Constructs never read context or the environment: every value reaches them as a typed
keyword-only argument.
"""
