"""The stores: what the results table and the queues hold, read and written.

`results` (a task's record), `results_index` (a client's items by time), `task_list`,
`cancellation`, `worker_presence`, `api_keys`, `rate_limits`, `queue_depth`.
"""
