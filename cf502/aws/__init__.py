"""Read-only AWS: find the CloudFront distribution behind a name, the exact settings of the origins
CloudFront would use, and the AWS-side causes of 502/504 (the `aws.*` checks).

A layer of its own, above the checks and the engine and below the pool, the bot and the command
line. boto3 is imported only by the modules that call AWS (`session` and `read/`), and only when AWS
is used; the rest (`config`, `find`, `host`, `origins`, `judge/`) is pure logic over what was read.
"""
