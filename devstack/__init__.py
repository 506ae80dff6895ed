"""The local stack that `make run` starts: moto's server for SQS and DynamoDB, and a wait for it."""
