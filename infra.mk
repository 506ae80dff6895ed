# Infrastructure targets (AWS CDK, Python). Included from the root Makefile.
#
#   make synth                      # dev (default), no AWS credentials or network needed
#   make synth STAGE=prod
#   make deploy STAGE=prod CDK_ARGS="-c egress=endpoints"
#   make scale-workers N=5          # out-of-band; autoscaling moves it again, a deploy does not
#   make cost STAGE=prod            # the monthly cost at idle, itemised (tools/cost)
#
# The CDK CLI is pinned in package.json and runs through npx; each target installs it
# (`npm ci`) and, as `make run` does, uv and the locked Python deps the app runs on. No
# notices or telemetry, the CLI's state in .cdk-home/ instead of ~/.cdk. The app has one
# stack, named by the stage's "stackName" in cdk.json: diff/deploy/destroy take --all.

STAGE ?= dev
CDK_OUT ?= cdk.out
CDK_ARGS ?=
# Extra cfn-lint / checkov arguments.
CFN_LINT_ARGS ?= --ignore-checks W3005
CHECKOV_VERSION ?= 3.3.30
CHECKOV_ARGS ?= --quiet --compact --skip-download

CDK = CDK_DISABLE_CLI_TELEMETRY=1 CDK_HOME=$(CURDIR)/.cdk-home npx --no-install cdk
CDK_FLAGS = --no-notices --app "$(RUN) python app.py" --output $(CDK_OUT) -c stage=$(STAGE) $(CDK_ARGS)

# npm writes node_modules/.package-lock.json on every install: a fresh stamp for make.
CDK_CLI = node_modules/.package-lock.json
$(CDK_CLI): package.json package-lock.json
	npm ci --no-audit --no-fund

.PHONY: synth  ## Synthesize the CloudFormation template of STAGE into cdk.out/ (runs cdk-nag)
synth: .python-deps $(CDK_CLI)
	rm -rf $(CDK_OUT)
	$(CDK) synth $(CDK_FLAGS) --quiet

# The cost of STAGE at idle, read from the template synth writes (tools/cost, prices in
# tools/cost/prices.json); a variant with CDK_ARGS: make cost STAGE=prod CDK_ARGS="-c egress=endpoints"
.PHONY: cost  ## Print the monthly cost of STAGE at idle, itemised, from its synthesized template
cost: synth
	$(RUN) python -m tools.cost $(CDK_OUT)

.PHONY: diff  ## Compare the synthesized stack with the deployed one (needs AWS credentials)
diff: .python-deps $(CDK_CLI)
	$(CDK) diff $(CDK_FLAGS) --all

.PHONY: deploy  ## Deploy the stack of STAGE (needs AWS credentials and a bootstrapped account)
deploy: .python-deps $(CDK_CLI)
	$(CDK) deploy $(CDK_FLAGS) --require-approval broadening --all

# prod's load balancer has deletion protection on, which CloudFormation cannot delete past:
# `make destroy STAGE=prod` stops with the commands that go on, and
# DISABLE_DELETION_PROTECTION=yes turns it off first (then cdk destroy asks no more).
DISABLE_DELETION_PROTECTION ?=
UNPROTECT = $(filter yes,$(DISABLE_DELETION_PROTECTION))

.PHONY: destroy  ## Delete the stack of STAGE, after printing what it keeps and why (infra/teardown.py)
destroy: .python-deps $(CDK_CLI)
	rm -rf $(CDK_OUT)
	$(CDK) synth $(CDK_FLAGS) --quiet
	$(RUN) python -m infra.teardown $(CDK_OUT) $(if $(UNPROTECT),--disable-deletion-protection)
	$(CDK) destroy --no-notices --app $(CDK_OUT) --all $(if $(UNPROTECT),--force)

.PHONY: bootstrap  ## Bootstrap the current AWS account/region for CDK deployments (and ECS's service-linked role)
bootstrap: .python-deps $(CDK_CLI)
	$(RUN) python -m infra.service_linked_role
	$(CDK) bootstrap $(CDK_FLAGS)

.PHONY: scale-workers  ## Set the worker service's desired count: make scale-workers N=5
scale-workers: .python-deps
	@test -n "$(N)" || { echo "usage: make scale-workers N=<count> [STAGE=dev]" >&2; exit 2; }
	$(RUN) taskqueue workers scale $(N) --stage $(STAGE)

.PHONY: cdk-check  ## cdk-nag (via synth), cfn-lint and checkov on the synthesized templates
cdk-check: synth
	$(RUN) cfn-lint $(CFN_LINT_ARGS) -- $(CDK_OUT)/*.template.json
	$(UV) tool run --from checkov==$(CHECKOV_VERSION) checkov -d $(CDK_OUT) --framework cloudformation \
		$(CHECKOV_ARGS) $(CHECKOV_SKIPS)

# Checks that fail on purpose, each explained in checkov-skips.md (keep both in step).
CHECKOV_SKIPS ?= --skip-check $(shell sed -n 's/^| \(CKV[0-9A-Z_]*\) .*/\1/p' checkov-skips.md | paste -sd, -)

# After a deploy: the deployed stack checked end to end (tools/cli/README.md#verify). Against
# the rehearsal: AWS_ENDPOINT_URL=<its endpoint> make verify VERIFY_ARGS="--url <its web>".
VERIFY_ARGS ?=

.PHONY: verify  ## Check a deployed STAGE end to end: targets, a key, a task, an alarm's notification, schedules, DLQs
verify: .python-deps
	$(RUN) taskqueue verify --stage $(STAGE) $(VERIFY_ARGS)
