"""A local AWS for the tests: moto's server in the test process on 127.0.0.1, with its known gaps
patched, and helpers that seed it with distributions, load balancers, logs and metrics.

moto's server drops some CloudFront fields (function associations, IpAddressType, origin access
control, S3/VPC origin configs), has no way to make a target unhealthy, names distributions
without the `E` of real ids and cannot enforce IAM on CloudFront's API. Because the server runs in this process, its models are patched here
(`patch_moto`); this relies on moto's internals, hence its pinned version.
"""

from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from boto3.session import Session
from moto.cloudfront import models as cf_models
from moto.cloudfront.responses import CloudFrontResponse
from moto.elbv2 import models as elb_models
from moto.server import ThreadedMotoServer

ACCOUNT = "123456789012"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# target id -> (state, reason, description), read by the patched health_for
TARGET_HEALTH: dict[str, tuple[str, str, str]] = {}
_patched = threading.Lock()
_done: list[bool] = []


def patch_moto() -> None:
    """Make moto keep what CloudFront keeps, and let tests set a target's health (once)."""
    with _patched:
        if _done:
            return
        _done.append(True)
    behaviour_init = cf_models.DefaultCacheBehaviour.__init__

    def behaviour(self: Any, config: dict[str, Any]) -> None:
        behaviour_init(self, config)
        for key, attr in (
            ("LambdaFunctionAssociations", "lambda_function_associations"),
            ("FunctionAssociations", "function_associations"),
        ):
            if config.get(key):
                value = dict(config[key])
                value["Quantity"] = len(value.get("Items", []))
                setattr(self, attr, value)

    cf_models.DefaultCacheBehaviour.__init__ = behaviour  # type: ignore[method-assign]

    custom_init = cf_models.CustomOriginConfig.__init__

    def custom(self: Any, config: dict[str, Any]) -> None:
        custom_init(self, config)
        self.ip_address_type = config.get("IpAddressType")

    cf_models.CustomOriginConfig.__init__ = custom  # type: ignore[method-assign]

    origin_init = cf_models.Origin.__init__

    def origin(self: Any, config: dict[str, Any]) -> None:
        origin_init(self, config)
        self.origin_access_control_id = config.get("OriginAccessControlId") or ""
        if "S3OriginConfig" in config:
            self.s3_origin_config = config["S3OriginConfig"]
        if "VpcOriginConfig" in config:
            self.vpc_origin_config = config["VpcOriginConfig"]

    cf_models.Origin.__init__ = origin  # type: ignore[method-assign, assignment]

    distribution_init = cf_models.Distribution.__init__

    def distribution(self: Any, account_id: str, region_name: str, config: dict[str, Any]) -> None:
        distribution_init(self, account_id, region_name, config)
        self.distribution_id = self.id = "E" + self.distribution_id[1:]
        self.arn = f"arn:aws:cloudfront::{account_id}:distribution/{self.id}"

    cf_models.Distribution.__init__ = distribution  # type: ignore[method-assign]

    health_for = elb_models.FakeTargetGroup.health_for

    def health(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
        seeded = TARGET_HEALTH.get(target["Id"])
        if seeded is None:
            return health_for(self, target, ec2_backend)
        state, reason, description = seeded
        port = target.get("Port", self.port)
        return elb_models.FakeHealthStatus(
            target["Id"], port, self.health_check_port, state, reason, description
        )

    elb_models.FakeTargetGroup.health_for = health  # type: ignore[method-assign]

    # moto cannot check IAM on CloudFront's REST API (every call is refused, even an allowed
    # one): with IAM enforced, CloudFront's configuration stays readable and the rest is checked.
    CloudFrontResponse._authenticate_and_authorize_normal_action = _no_check  # type: ignore[method-assign]


def _no_check(self: Any, resource: str = "*") -> None:
    return None


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on 127.0.0.1 (a free port); yields its URL."""
    patch_moto()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def custom_origin(
    origin_id: str,
    domain: str,
    *,
    https_port: int = 443,
    http_port: int = 80,
    policy: str = "https-only",
    read_timeout: int = 30,
    keepalive: int = 5,
    attempts: int = 3,
    connect_timeout: int = 10,
    ssl: tuple[str, ...] = ("TLSv1.2",),
    headers: dict[str, str] | None = None,
    path: str = "",
    ip_type: str | None = None,
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "HTTPPort": http_port,
        "HTTPSPort": https_port,
        "OriginProtocolPolicy": policy,
        "OriginSslProtocols": {"Quantity": len(ssl), "Items": list(ssl)},
        "OriginReadTimeout": read_timeout,
        "OriginKeepaliveTimeout": keepalive,
    }
    if ip_type:
        config["IpAddressType"] = ip_type
    items = [{"HeaderName": k, "HeaderValue": v} for k, v in (headers or {}).items()]
    return {
        "Id": origin_id,
        "DomainName": domain,
        "OriginPath": path,
        "CustomHeaders": {"Quantity": len(items), "Items": items},
        "CustomOriginConfig": config,
        "ConnectionAttempts": attempts,
        "ConnectionTimeout": connect_timeout,
    }


def behavior(
    target: str,
    pattern: str | None = None,
    *,
    cache_policy: str | None = "658327ea-f89d-4fab-a63d-7e88639e58f6",
    origin_request_policy: str | None = None,
    lambdas: tuple[tuple[str, str], ...] = (),
    functions: tuple[tuple[str, str], ...] = (),
    forwarded_headers: tuple[str, ...] = (),
) -> dict[str, Any]:
    b: dict[str, Any] = {"TargetOriginId": target, "ViewerProtocolPolicy": "allow-all"}
    if pattern is not None:
        b["PathPattern"] = pattern
    if cache_policy:
        b["CachePolicyId"] = cache_policy
    else:
        b["ForwardedValues"] = {
            "QueryString": False,
            "Cookies": {"Forward": "none"},
            "Headers": {"Quantity": len(forwarded_headers), "Items": list(forwarded_headers)},
        }
        b["MinTTL"] = 0
    if origin_request_policy:
        b["OriginRequestPolicyId"] = origin_request_policy
    if lambdas:
        b["LambdaFunctionAssociations"] = {
            "Quantity": len(lambdas),
            "Items": [{"LambdaFunctionARN": arn, "EventType": ev} for arn, ev in lambdas],
        }
    if functions:
        b["FunctionAssociations"] = {
            "Quantity": len(functions),
            "Items": [{"FunctionARN": arn, "EventType": ev} for arn, ev in functions],
        }
    return b


@dataclass
class Emulator:
    """Seeds the emulator at `url` through its real API (boto3 with dummy credentials; boto3's
    own Session class, taken before the tests' guard replaces it, since seeding writes)."""

    url: str
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    def client(self, service: str, region: str = "us-east-1") -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = Session(**CREDENTIALS).client(
                service, region_name=region, endpoint_url=self.url
            )
        return self._clients[key]

    def distribution(
        self,
        *,
        aliases: tuple[str, ...] = (),
        origins: list[dict[str, Any]],
        default: dict[str, Any],
        behaviors: list[dict[str, Any]] = (),  # type: ignore[assignment]
        groups: list[dict[str, Any]] = (),  # type: ignore[assignment]
        errors: list[dict[str, Any]] = (),  # type: ignore[assignment]
        logging_bucket: str | None = None,
        enabled: bool = True,
    ) -> dict[str, Any]:
        config: dict[str, Any] = {
            "CallerReference": f"cf502-{datetime.now(UTC).timestamp()}-{len(self._clients)}-{id(origins)}",
            "Aliases": {"Quantity": len(aliases), "Items": list(aliases)},
            "Comment": "",
            "Enabled": enabled,
            "Origins": {"Quantity": len(origins), "Items": origins},
            "DefaultCacheBehavior": default,
        }
        if behaviors:
            config["CacheBehaviors"] = {"Quantity": len(behaviors), "Items": list(behaviors)}
        if groups:
            config["OriginGroups"] = {"Quantity": len(groups), "Items": list(groups)}
        if errors:
            config["CustomErrorResponses"] = {"Quantity": len(errors), "Items": list(errors)}
        if logging_bucket:
            config["Logging"] = {
                "Enabled": True,
                "IncludeCookies": False,
                "Bucket": f"{logging_bucket}.s3.amazonaws.com",
                "Prefix": "cf/",
            }
        answer = self.client("cloudfront").create_distribution(DistributionConfig=config)
        return dict(answer["Distribution"])

    def load_balancer(
        self,
        name: str,
        *,
        region: str = "eu-west-1",
        ports: tuple[int, ...] = (443,),
        scheme: str = "internet-facing",
        idle_timeout: int | None = 60,
        ingress: str = "prefix-list",
        targets: dict[str, tuple[str, str, str] | None] | None = None,
    ) -> dict[str, Any]:
        """An ALB with a target group of IP targets (None: healthy) and a security group whose
        inbound rule on the ports allows `ingress`: "prefix-list" (CloudFront's), "world",
        "office" (a narrow CIDR only) or "none"."""
        ec2 = self.client("ec2", region)
        elb = self.client("elbv2", region)
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{region}{az}"
            )["Subnet"]["SubnetId"]
            for i, az in enumerate("ab")
        ]
        sg = ec2.create_security_group(GroupName=f"{name}-sg", Description="lb", VpcId=vpc)[
            "GroupId"
        ]
        for port in ports:
            permission: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
            if ingress == "prefix-list":
                pl = ec2.describe_managed_prefix_lists(
                    Filters=[
                        {
                            "Name": "prefix-list-name",
                            "Values": ["com.amazonaws.global.cloudfront.origin-facing"],
                        }
                    ]
                )["PrefixLists"][0]["PrefixListId"]
                permission["PrefixListIds"] = [{"PrefixListId": pl}]
            elif ingress == "world":
                permission["IpRanges"] = [{"CidrIp": "0.0.0.0/0"}]
            elif ingress == "office":
                permission["IpRanges"] = [{"CidrIp": "198.51.100.0/24"}]
            else:
                continue
            ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[permission])
        lb = elb.create_load_balancer(
            Name=name, Subnets=subnets, SecurityGroups=[sg], Scheme=scheme, Type="application"
        )["LoadBalancers"][0]
        tg = elb.create_target_group(
            Name=f"{name}-tg", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
        seeded = targets if targets is not None else {"10.20.0.10": None, "10.20.1.10": None}
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": t, "Port": 80} for t in seeded])
        for target, health in seeded.items():
            if health is None:
                TARGET_HEALTH.pop(target, None)
            else:
                TARGET_HEALTH[target] = health
        for port in ports:
            elb.create_listener(
                LoadBalancerArn=lb["LoadBalancerArn"],
                Protocol="HTTP",
                Port=port,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
            )
        if idle_timeout is not None:
            elb.modify_load_balancer_attributes(
                LoadBalancerArn=lb["LoadBalancerArn"],
                Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": str(idle_timeout)}],
            )
        return dict(lb)

    def log(self, region: str, group: str, messages: list[str], when: datetime) -> None:
        logs = self.client("logs", region)
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        stream = f"s{len(messages)}-{when.timestamp()}"
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        ms = int(when.timestamp() * 1000)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": ms + i, "message": m} for i, m in enumerate(messages)],
        )

    def metric(
        self, distribution_id: str, name: str, points: list[tuple[datetime, float]], **dims: str
    ) -> None:
        dimensions = dims or {"DistributionId": distribution_id, "Region": "Global"}
        self.client("cloudwatch").put_metric_data(
            Namespace="AWS/CloudFront",
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    "Timestamp": t,
                    "Value": v,
                }
                for t, v in points
            ],
        )

    def access_log(self, bucket: str, key: str, lines: list[str]) -> None:
        s3 = self.client("s3")
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress("\n".join(lines).encode()))
