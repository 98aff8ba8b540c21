"""The `aws.*` checks' judgements: pure functions from what was read from AWS to a CheckResult.

Each judge names the concrete values in its summary, backs them with evidence, says what to change
and gives the equivalent `aws` CLI command lines; a reading that AWS refused is a `skip` that says
which permission is missing ("cannot see"), never a failure.
"""

from cf502.aws.judge._result import CHECK_IDS, TITLES, cannot_see, could_not_ask, make

__all__ = ["CHECK_IDS", "TITLES", "cannot_see", "could_not_ask", "make"]
