"""Tollgate's runtime: the code every Lambda function of the stack runs (never imports CDK)."""
