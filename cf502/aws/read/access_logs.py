"""Reading recent 502/504 from the distribution's standard logs: legacy logging to S3
(`<prefix><id>.YYYY-MM-DD-HH.<unique>.gz`), or v2 delivery to CloudWatch Logs. Bounded: a few
files of the last hours, each read up to a size limit."""

from __future__ import annotations

import gzip
import io
from datetime import datetime, timedelta

from cf502.aws.config import Distribution
from cf502.aws.judge.access_logs import LogReading
from cf502.aws.session import Account, NotFound, call
from cf502.decode.logline import LogRecord, parse_json_line, parse_w3c
from cf502.shell import sh

__all__ = ["HOURS", "read_access_logs"]

HOURS = 2
MAX_FILES = 12
MAX_FILE_BYTES = 4 * 1024 * 1024  # compressed, per file
MAX_TEXT_BYTES = 32 * 1024 * 1024  # decompressed, per file
MAX_EVENTS = 1000
_FAILED = (502, 504)


def _gunzip(data: bytes) -> str:
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
        return f.read(MAX_TEXT_BYTES).decode("utf-8", "replace")


def _from_s3(account: Account, d: Distribution, now: datetime) -> LogReading:
    bucket, prefix = d.logging.bucket, d.logging.prefix
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    client = account.client("s3")
    keys: list[str] = []
    truncated = False
    for h in range(HOURS):
        hour = (now - timedelta(hours=h)).strftime("%Y-%m-%d-%H")
        answer = call(
            client, "list_objects_v2", Bucket=bucket, Prefix=f"{prefix}{d.id}.{hour}", MaxKeys=100
        )
        objects = answer.get("Contents", []) or []
        keys += [str(o["Key"]) for o in objects if int(o.get("Size", 0)) <= MAX_FILE_BYTES]
        truncated = truncated or bool(answer.get("IsTruncated"))
    keys = sorted(keys, reverse=True)
    if len(keys) > MAX_FILES:
        keys, truncated = keys[:MAX_FILES], True
    records: list[LogRecord] = []
    for key in keys:
        body = call(client, "get_object", Bucket=bucket, Key=key)["Body"]
        data = body.read(MAX_FILE_BYTES + 1)
        text = _gunzip(data) if key.endswith(".gz") else data.decode("utf-8", "replace")
        found, _ = parse_w3c(text.splitlines())
        records += [r for r in found if r.status in _FAILED]
    where = f"s3://{bucket}/{prefix}"
    command = sh("aws", "s3", "ls", f"{where}{d.id}.{now.strftime('%Y-%m-%d-%H')}")
    return LogReading(where, HOURS, len(keys), tuple(records), truncated, commands=(command,))


def _v2_destination(account: Account, d: Distribution) -> tuple[str, str] | None:
    """(destination type, resource ARN) of the distribution's v2 access-log delivery, if any."""
    client = account.client("logs", "us-east-1")
    sources = call(client, "describe_delivery_sources").get("deliverySources", []) or []
    names = {
        s.get("name")
        for s in sources
        if d.arn and d.arn in (s.get("resourceArns") or []) and s.get("logType") == "ACCESS_LOGS"
    }
    if not names:
        return None
    for delivery in call(client, "describe_deliveries").get("deliveries", []) or []:
        if delivery.get("deliverySourceName") in names:
            dest_name = str(delivery.get("deliveryDestinationArn", "")).rsplit(":", 1)[-1]
            dest_name = dest_name.removeprefix("delivery-destination/")
            dest = call(client, "get_delivery_destination", name=dest_name).get(
                "deliveryDestination", {}
            )
            arn = str(
                dest.get("deliveryDestinationConfiguration", {}).get("destinationResourceArn", "")
            )
            return str(
                delivery.get("deliveryDestinationType") or dest.get("deliveryDestinationType", "")
            ), arn
    return None


def _from_cwl(account: Account, arn: str, now: datetime) -> LogReading:
    # arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]
    parts = arn.split(":")
    region, group = parts[3], parts[6] if len(parts) > 6 else ""
    start = int((now - timedelta(hours=HOURS)).timestamp() * 1000)
    pattern = '?"502" ?"504"'  # refined below: only the status field counts
    answer = call(
        account.client("logs", region),
        "filter_log_events",
        logGroupName=group,
        startTime=start,
        filterPattern=pattern,
        limit=MAX_EVENTS,
    )
    events = answer.get("events", []) or []
    records: list[LogRecord] = []
    for e in events:
        message = str(e.get("message", ""))
        record = parse_json_line(message) if message.lstrip().startswith("{") else None
        if record is None:
            found, _ = parse_w3c([message])
            record = found[0] if found else None
        if record is not None and record.status in _FAILED:
            records.append(record)
    command = sh(
        "aws",
        "logs",
        "filter-log-events",
        "--region",
        region,
        "--log-group-name",
        group,
        "--start-time",
        start,
        "--filter-pattern",
        pattern,
    )
    return LogReading(
        f"CloudWatch Logs {group} ({region})",
        HOURS,
        len(events),
        tuple(records),
        bool(answer.get("nextToken")),
        commands=(command,),
    )


def read_access_logs(account: Account, d: Distribution, now: datetime) -> LogReading:
    """Legacy S3 logs when on, else a v2 delivery; `where` None when logging is off."""
    if d.logging.enabled and d.logging.bucket:
        return _from_s3(account, d, now)
    try:
        destination = _v2_destination(account, d)
    except NotFound:
        destination = None
    if destination is None:
        return LogReading(None, HOURS)
    kind, arn = destination
    if kind == "CWL" or ":logs:" in arn:
        return _from_cwl(account, arn, now)
    what = {"FH": "Firehose", "S3": "S3 (v2 delivery)"}.get(kind, kind)
    return LogReading(
        f"{what} {arn}",
        HOURS,
        unreadable="cf502 reads legacy S3 logs and CloudWatch Logs deliveries, not this destination",
    )
