"""``environment_secrets_store``: secrets from this server's environment variables.

Only variables named in ``WorkflowLimits.secret_env_allowlist``
(``VISIONFLOW_WORKFLOWS_SECRET_ENV_ALLOWLIST``, comma-separated; empty by default) may be read:
a workflow naming any other is refused with a 403 naming the setting, so a definition cannot
read the server's credentials. Each variable is an output named in lower case, as in the
reference (``null`` when the allowed variable is not set); blocks get the value, workflow outputs
show it masked (``serialize.Secret``).
"""

from __future__ import annotations

import os

from visionflow.errors import ForbiddenError
from visionflow.workflows import kinds as k
from visionflow.workflows.block import Block, OutputDefinition, RunContext, StepInputs, StepResult
from visionflow.workflows.limits import SECRET_ENV_ALLOWLIST_SETTING
from visionflow.workflows.manifest import StepManifest
from visionflow.workflows.serialize import Secret

__all__ = ["SECRETS_BLOCKS", "EnvironmentSecretsStoreV1"]


class EnvironmentSecretsStoreManifestV1(StepManifest):
    variables_storing_secrets: list[str]


class EnvironmentSecretsStoreV1(Block):
    """One ``secret`` output per variable of ``variables_storing_secrets``, named in lower case."""

    type = "roboflow_core/environment_secrets_store@v1"
    manifest = EnvironmentSecretsStoreManifestV1
    outputs = (OutputDefinition("*", (k.WILDCARD,)),)
    block_type = "secrets_provider"

    def outputs_for(self, manifest: StepManifest) -> tuple[OutputDefinition, ...]:
        assert isinstance(manifest, EnvironmentSecretsStoreManifestV1)
        return tuple(
            OutputDefinition(name.lower(), (k.SECRET,))
            for name in manifest.variables_storing_secrets
        )

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        names: list[str] = inputs["variables_storing_secrets"]
        allowed = set(context.budget.limits.secret_env_allowlist)
        refused = [name for name in names if name not in allowed]
        if refused:
            raise ForbiddenError(
                f"environment variables {refused} are not in "
                f"the allow-list of variables workflows may read ({SECRET_ENV_ALLOWLIST_SETTING})",
            )
        values = {name: os.environ.get(name) for name in names}
        return {n.lower(): None if v is None else Secret(v) for n, v in values.items()}


SECRETS_BLOCKS: tuple[type[Block], ...] = (EnvironmentSecretsStoreV1,)
