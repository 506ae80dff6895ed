"""The cost model on the synthesized templates: every resource type the stages make is priced
or listed free (a new type without a price fails here), and the lines count what dev and prod
make. `make cost` itself runs the CDK CLI's synth and prints the estimate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import REPO_ROOT, Synth
from tests.infra.test_cli_synth import make_synth
from tools.cost import bench_figures, idle, prices
from tools.cost.template import Template

BOOK = prices.load()
HOURS = BOOK.hours_per_month
# Beside dev and prod, the variants of the options make cost prices: endpoints, Spot (its
# capacity providers), the WAF and secrets (dev_edge), ARM64.
OPTION_VARIANTS = ("prod_endpoints", "prod_spot_email", "dev_edge", "dev_arm64")


def template_of(synth: Synth) -> Template:
    return Template(synth.stack.stack_name, synth.json)


def lines(synth: Synth) -> dict[str, idle.Line]:
    figures = bench_figures.load()
    return {line.item: line for line in idle.estimate(template_of(synth), BOOK, figures).lines}


@pytest.mark.parametrize("variant", ("dev", "prod", *OPTION_VARIANTS))
def test_every_resource_type_is_priced_or_listed_free(synth_variant: Any, variant: str) -> None:
    stack = template_of(synth_variant(variant))
    assert idle.unpriced(stack, BOOK) == []
    # and the tool reads all of it: no alarm, schedule or table it refuses
    assert idle.estimate(stack, BOOK, bench_figures.load()).total > 0


def test_dev_idles_with_the_web_task_alone_and_its_address(dev: Synth) -> None:
    found = lines(dev)
    # The load balancer's 2 addresses and the web task's; the workers scale to zero.
    assert found["Public IPv4 addresses"].usd == pytest.approx(
        3 * HOURS * BOOK.usd("public_ipv4_hour")
    )
    assert found["Fargate: worker"].usd == 0
    assert found["Fargate: web"].usd > 0
    assert "NAT gateways" not in found and "Schedules" not in found  # queue-report is paused


def test_prod_pays_its_nat_gateway_and_the_schedules_fires(prod: Synth) -> None:
    found = lines(prod)
    assert found["NAT gateways"].usd == pytest.approx(HOURS * BOOK.usd("nat_gateway_hour"))
    assert "1 Elastic IP (NAT)" in found["Public IPv4 addresses"].detail
    assert found["Schedules"].usd > 0
    assert found["Fargate: worker"].usd > 0  # workerMinCount 1


def test_endpoints_replace_the_nat_gateway_with_interface_endpoints_per_az(
    prod_endpoints: Synth,
) -> None:
    found = lines(prod_endpoints)
    assert "NAT gateways" not in found
    assert found["Interface endpoints"].usd > 0


@pytest.mark.timeout(300)
def test_make_cost_prints_the_stage_read_from_its_synthesized_template(tmp_path: Path) -> None:
    result = make_synth(tmp_path, "-c cpuArchitecture=ARM64", target="cost")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "taskqueue-dev: monthly cost at idle" in result.stdout
    assert "0.25 vCPU/0.5 GB ARM64" in result.stdout  # the -c option reached the template
    assert "Idle total" in result.stdout


def test_the_readmes_state_devs_idle_total_as_the_tool_prices_it(dev: Synth) -> None:
    # dev's idle total depends on the template and the prices alone (its workers run none).
    estimate = idle.estimate(template_of(dev), BOOK, bench_figures.load())
    total = f"${estimate.total:,.2f}"
    infra_readme = (REPO_ROOT / "infra" / "README.md").read_text()
    assert f"| **Idle total** | **{total}** |" in infra_readme
    assert f"dev {total}" in (REPO_ROOT / "README.md").read_text()


def test_dev_idles_at_40_dollars_or_less_with_its_load_balancer(dev: Synth) -> None:
    """The goal of issue 24: the web on Spot and no Container Insights take dev under $40."""
    found = lines(dev)
    assert found["Application Load Balancer"].usd > 0
    assert "Container Insights" not in found
    assert "(1 on Spot)" in found["Fargate: web"].detail
    assert idle.estimate(template_of(dev), BOOK, bench_figures.load()).total <= 40
