"""An AWS WAF web ACL on the load balancer: one rate-based rule per client IP address."""

from __future__ import annotations

from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

RULE_NAME = "rate-limit-per-ip"
EVALUATION_WINDOW_SECONDS = 300  # WAF's default window: the limit is per 5 minutes


class RateLimit(Construct):
    """A REGIONAL web ACL that allows everything except an IP address over `limit` requests
    in 5 minutes (answered 403 by WAF until its rate falls below the limit again), with
    CloudWatch metrics and sampled requests on."""

    web_acl: wafv2.CfnWebACL

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        load_balancer: elbv2.IApplicationLoadBalancer,
        limit: int,
        metric_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            description=f"At most {limit} requests per IP address in 5 minutes",
            visibility_config=_visibility(metric_prefix),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name=RULE_NAME,
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="IP",
                            limit=limit,
                            evaluation_window_sec=EVALUATION_WINDOW_SECONDS,
                        )
                    ),
                    visibility_config=_visibility(f"{metric_prefix}-{RULE_NAME}"),
                )
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "Association",
            resource_arn=load_balancer.load_balancer_arn,
            web_acl_arn=self.web_acl.attr_arn,
        )


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True,
        metric_name=metric_name,
        sampled_requests_enabled=True,
    )
