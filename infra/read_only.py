"""Containers whose image is read-only at run time, with /tmp as their only scratch space."""

from __future__ import annotations

from aws_cdk import aws_ecs as ecs

SCRATCH_VOLUME = "tmp"
SCRATCH_PATH = "/tmp"  # gunicorn's worker heartbeats, the Celery worker's heartbeat file


def read_only_root(task_definition: ecs.TaskDefinition, container: ecs.ContainerDefinition) -> None:
    """Make `container`'s root filesystem read-only and mount a task-scoped volume on /tmp.

    A volume without a host path is Fargate's ephemeral task storage: it lives and dies
    with the task. The image, the code and the virtualenv cannot be changed by a running
    process. (The CDK's ecs_patterns expose no `readonlyRootFilesystem` option, hence the
    override on the one container of the task definition.)
    """
    task_definition.add_volume(name=SCRATCH_VOLUME)
    container.add_mount_points(
        ecs.MountPoint(container_path=SCRATCH_PATH, source_volume=SCRATCH_VOLUME, read_only=False)
    )
    task_definition_resource = task_definition.node.default_child
    assert isinstance(task_definition_resource, ecs.CfnTaskDefinition)
    task_definition_resource.add_property_override(
        "ContainerDefinitions.0.ReadonlyRootFilesystem", True
    )
