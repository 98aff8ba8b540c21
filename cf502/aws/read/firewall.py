"""Reading the security groups in front of a load balancer origin and CloudFront's managed
prefix lists in its Region (EC2 API)."""

from __future__ import annotations

from typing import Any

from cf502.aws.judge.firewall import PREFIX_LISTS, Firewall, Rule
from cf502.aws.session import Account, NotFound, call
from cf502.shell import sh

__all__ = ["families_for", "read_firewall"]

MAX_ENTRIES_PAGES = 10


def families_for(ip_address_type: str | None) -> tuple[str, ...]:
    """The families CloudFront connects with for the origin's IpAddressType (ipv4 by default)."""
    return {"ipv6": ("IPv6",), "dualstack": ("IPv4", "IPv6")}.get(ip_address_type or "", ("IPv4",))


def _prefix_lists(client: Any, families: tuple[str, ...]) -> dict[str, tuple[str, tuple[str, ...]]]:
    names = [PREFIX_LISTS[f] for f in families]
    answer = call(
        client,
        "describe_managed_prefix_lists",
        Filters=[{"Name": "prefix-list-name", "Values": names}],
    )
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for pl in answer.get("PrefixLists", []) or []:
        family = next((f for f, n in PREFIX_LISTS.items() if n == pl.get("PrefixListName")), None)
        if family is None or family not in families:
            continue
        pl_id = str(pl.get("PrefixListId"))
        entries: list[str] = []
        token: str | None = None
        for _ in range(MAX_ENTRIES_PAGES):
            params: dict[str, Any] = {"PrefixListId": pl_id}
            if token:
                params["NextToken"] = token
            page = call(client, "get_managed_prefix_list_entries", **params)
            entries += [str(e.get("Cidr")) for e in page.get("Entries", []) or [] if e.get("Cidr")]
            token = page.get("NextToken")
            if not token:
                break
        found[family] = (pl_id, tuple(entries))
    return found


def _rules(groups: list[dict[str, Any]]) -> tuple[Rule, ...]:
    rules = []
    for g in groups:
        for p in g.get("IpPermissions", []) or []:
            rules.append(
                Rule(
                    group=str(g.get("GroupId")),
                    protocol=str(p.get("IpProtocol", "-1")),
                    from_port=p.get("FromPort"),
                    to_port=p.get("ToPort"),
                    cidrs=tuple(
                        [str(r.get("CidrIp")) for r in p.get("IpRanges", []) or []]
                        + [str(r.get("CidrIpv6")) for r in p.get("Ipv6Ranges", []) or []]
                    ),
                    prefix_lists=tuple(
                        str(r.get("PrefixListId")) for r in p.get("PrefixListIds", []) or []
                    ),
                )
            )
    return tuple(rules)


def read_firewall(
    account: Account,
    region: str,
    where: str,
    group_ids: tuple[str, ...],
    ports: tuple[int, ...],
    ip_address_type: str | None,
) -> Firewall:
    client = account.client("ec2", region)
    families = families_for(ip_address_type)
    try:
        answer = call(client, "describe_security_groups", GroupIds=list(group_ids))
        groups = list(answer.get("SecurityGroups", []) or [])
    except NotFound:
        groups = []
    commands = (
        sh("aws", "ec2", "describe-security-groups", "--region", region, "--group-ids", *group_ids),
        sh(
            "aws",
            "ec2",
            "describe-managed-prefix-lists",
            "--region",
            region,
            "--filters",
            f"Name=prefix-list-name,Values={PREFIX_LISTS[families[0]]}",
        ),
    )
    return Firewall(
        where=where,
        groups=group_ids,
        rules=_rules(groups),
        ports=ports,
        families=families,
        prefix_lists=_prefix_lists(client, families),
        commands=commands,
    )
