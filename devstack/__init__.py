"""The local stack for development and tests: moto's server standing in for SQS and DynamoDB."""
