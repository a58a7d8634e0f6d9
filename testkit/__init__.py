"""Test support shared by the tests and the benchmark (bench/ must not import tests.*): fakes of
every port that fail on demand, fakes of the AWS services Powertools talks to, and API
Gateway-shaped events. Never shipped: the Lambda asset holds lambda_src/ only."""
