"""The thin readers behind the `aws.*` checks: each asks AWS through `cf502.aws.session.call` and
returns the plain data its judge (`cf502.aws.judge`) decides on. Read-only: they call only the
operations of deploy/aws-readonly-policy.json."""
