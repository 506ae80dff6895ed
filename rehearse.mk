# Rehearse the first `cdk deploy` offline. Included from the root Makefile.
#
#   make rehearse                   # STAGE=dev: deploy to a local endpoint, run the services
#   make rehearse STAGE=prod
#
# moto's server on a free loopback port, the pinned CDK CLI's bootstrap and deploy against it
# (images built by buildah through CDK_DOCKER), then the deployed task definitions run as
# podman containers with Fargate's semantics. Ctrl-C stops and removes everything.
# See rehearsal/README.md for what is real and what is not.

.PHONY: rehearse  ## Rehearse `cdk deploy` of STAGE offline: local AWS, real CDK CLI, Fargate-like containers
rehearse: .python-deps .images-deps $(CDK_CLI)
	@$(IMAGES_ENV) $(RUN) python -m rehearsal --stage $(STAGE)

.PHONY: test-rehearsal  ## Run the rehearsal's tests (deploys, runs both services as containers)
test-rehearsal: .python-deps .node-deps .images-deps
	$(RUN) pytest tests/rehearsal
