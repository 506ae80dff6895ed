"""The process harness of the tests and the bench: a local stack as real processes on free ports.

`harness.stack.LocalStack` starts moto's server (`devstack.local_aws`), the worker and the
web through their console scripts; `harness.processes` starts and stops them by PID, and
stops whatever is still running when the run ends, also on SIGTERM or SIGHUP.
"""
