"""Every runtime setting reaches the containers from context, or is named as set elsewhere."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic.alias_generators import to_camel
from taskqueue.settings import Settings

from infra.config import (
    NOT_FROM_CONTEXT,
    RUNTIME_FIELDS,
    USED_BY_STACK,
    ConfigError,
    InfraConfig,
)
from tests.infra.conftest import (
    RUNTIME_VALUES,
    Synth,
    cdk_json_context,
    container_env,
    container_settings,
    synthesize,
)

pytestmark = pytest.mark.timeout(300)

SERVICES = ("web", "worker")


def config(**overrides: Any) -> InfraConfig:
    return InfraConfig.from_context({**cdk_json_context(), **overrides})


def test_each_runtime_setting_is_settable_per_stage_or_named_as_set_elsewhere() -> None:
    """A new `Settings` field is settable from context unless NOT_FROM_CONTEXT names it."""
    assert set(NOT_FROM_CONTEXT) <= set(Settings.model_fields)
    assert set(RUNTIME_FIELDS) == set(Settings.model_fields) - set(NOT_FROM_CONTEXT)
    assert RUNTIME_FIELDS  # most of them


@pytest.mark.parametrize("name", RUNTIME_FIELDS)
def test_each_settable_runtime_setting_given_as_context_reaches_both_containers(
    dev_settings: Synth, name: str
) -> None:
    for service in SERVICES:
        assert getattr(container_settings(dev_settings, service), name) == RUNTIME_VALUES[name]


def test_each_runtime_setting_the_stack_uses_is_in_both_containers_even_at_its_default(
    dev: Synth,
) -> None:
    """The queue's visibility, the ALB's idle timeout...: what a resource was built with, the
    services run with, and the template shows it (no stage of cdk.json sets them)."""
    assert "queue_visibility_timeout" in USED_BY_STACK
    defaults = {name: Settings.model_fields[name].default for name in USED_BY_STACK}
    for service in SERVICES:
        env = container_env(dev, service)
        assert [name for name in USED_BY_STACK if name.upper() not in env] == []
        settings = container_settings(dev, service)
        assert {name: getattr(settings, name) for name in USED_BY_STACK} == defaults


def test_web_workers_from_context_is_in_the_web_containers_environment(
    dev_settings: Synth, dev: Synth
) -> None:
    assert container_env(dev_settings, "web")["WEB_WORKERS"] == "8"  # -c webWorkers=8
    assert "WEB_WORKERS" not in container_env(dev, "web")  # unset: the runtime's default


@pytest.mark.parametrize(
    "variable",
    [
        "WEB_THREADS",
        "TASK_MAX_DELAY",
        "VISIBILITY_HEARTBEAT_INTERVAL",
        "TASK_CANCEL_GRACE",
        "API_KEY_CACHE_SECONDS",
    ],
)
def test_the_settings_aws_could_not_set_reach_the_environment(
    dev_settings: Synth, variable: str
) -> None:
    given = container_env(dev_settings, "web")[variable]
    name = variable.lower()
    assert getattr(Settings.from_environment({variable: given}), name) == RUNTIME_VALUES[name]


@pytest.mark.parametrize("name", sorted(NOT_FROM_CONTEXT))
def test_a_setting_the_stack_sets_itself_is_refused_as_context(name: str) -> None:
    with pytest.raises(ConfigError, match=f"context key '{to_camel(name)}' \\(-c\\)"):
        config(**{to_camel(name): "x"})


def test_a_runtime_setting_the_runtime_refuses_fails_naming_its_context_key() -> None:
    with pytest.raises(ConfigError) as refused:
        config(webWorkers="0")
    assert str(refused.value).startswith("runtime Settings: WEB_WORKERS: ")
    assert str(refused.value).endswith("(context: webWorkers)")
    with pytest.raises(ConfigError, match=r"VISIBILITY_HEARTBEAT_INTERVAL \(40\) must fit twice"):
        config(visibilityHeartbeatInterval="40")


@pytest.mark.parametrize(
    ("key", "nearest"),
    [("workerMaxCont", "workerMaxCount"), ("webWorker", "webWorkers"), ("logLevl", "logLevel")],
)
def test_an_unknown_context_key_fails_naming_the_nearest_known_key(key: str, nearest: str) -> None:
    with pytest.raises(ConfigError) as refused:
        config(**{key: "5"})
    assert str(refused.value) == (
        f"context key {key!r} (-c) is not a setting of this stack: did you mean {nearest!r}?"
    )


def test_an_unknown_key_in_a_stage_block_fails_naming_the_nearest_known_key() -> None:
    context = cdk_json_context()
    context["taskqueue"]["prod"]["workerMaxCont"] = 5
    with pytest.raises(ConfigError) as refused:
        InfraConfig.from_context({**context, "stage": "prod"})
    assert str(refused.value) == (
        "context key 'workerMaxCont' (taskqueue.prod) is not a setting of this stack:"
        " did you mean 'workerMaxCount'?"
    )


def test_a_key_like_no_setting_says_where_the_settings_are_listed() -> None:
    with pytest.raises(
        ConfigError, match=r"'zzz' \(-c\) is not a setting .* \(shared/README.md#settings\)$"
    ):
        config(zzz="1")


def test_cdk_own_context_keys_are_left_to_cdk() -> None:
    """Feature flags, the CLI's keys and cached lookups arrive in the same context."""
    cfg = config(
        **{
            "@aws-cdk/aws-lambda:recognizeLayerVersion": True,
            "@aws-cdk-containers/ecs-service-extensions:enableDefaultLogDriver": True,
            "aws:cdk:enable-path-metadata": True,
            "aws:cdk:bundling-stacks": ["**"],
            "availability-zones:account=123456789012:region=eu-west-1": ["eu-west-1a"],
            "acknowledged-issue-numbers": [32775],
        }
    )
    assert cfg == config()


def test_the_cdk_cli_context_of_a_synth_builds_the_stack(dev: Synth) -> None:
    """`cdk synth` passes the whole context (cdk.json's, -c's and its own): the app reads it."""
    context = dev.app.node.get_all_context()
    assert InfraConfig.from_context(context) == dev.stack.config


def test_the_settings_reference_names_the_settings_no_context_key_sets() -> None:
    text = (Path(__file__).resolve().parents[2] / "shared" / "README.md").read_text()
    (paragraph,) = [p for p in text.split("\n\n") if p.startswith("On AWS every variable")]
    named = re.findall(r"`([A-Z][A-Z0-9_]+)`", paragraph)
    assert sorted(name.lower() for name in named) == sorted(NOT_FROM_CONTEXT)


def test_a_stage_that_refuses_a_setting_fails_synth_before_any_template(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="webThreads"):
        synthesize(tmp_path, {"webThreads": "0"})
    assert not list(tmp_path.glob("*.template.json"))
