"""Port implementations, one SDK each (boto3, stripe, moesifapi)."""
