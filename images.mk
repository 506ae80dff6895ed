# Container images, built and run without Docker or a registry. Included from the root Makefile.
#
#   make images                     # base image (cached), then web + worker from cdk.out
#   make test-images                # the images as containers: the whole flow end to end
#   make images-clean               # remove every image, container and layer made here
#
# Debian's buildah and podman (root), a base image made by debootstrap instead of pulling
# python:3.11-slim, engine and storage settings in containers/ (nothing in /etc changes).
# See containers/README.md.

IMAGES_BASE ?= localhost/python-base:3.11
# slirp4netns gives each rehearsed task its own network namespace (rehearse.mk).
IMAGES_TOOLS := buildah podman runc debootstrap slirp4netns

# Engine settings for every buildah/podman command below (and for the tests, which read
# them from `make .images-env`). STORAGE_DRIVER overrides the driver of storage.conf.
IMAGES_ENV = CONTAINERS_CONF=$(CURDIR)/containers/containers.conf \
	CONTAINERS_STORAGE_CONF=$(CURDIR)/containers/storage.conf \
	STORAGE_DRIVER=$(IMAGES_STORAGE_DRIVER)
IMAGES_STORAGE_DRIVER ?= $(shell bash containers/storage-driver.sh)

# Only the image targets and tests need these (`make run` does not).
.PHONY: .images-deps
.images-deps:
	@missing=$$(for tool in $(IMAGES_TOOLS); do command -v $$tool >/dev/null || echo $$tool; done); \
	if [[ -n "$$missing" ]]; then $(call system_install,$(IMAGES_TOOLS),the image targets and tests); fi

.PHONY: .images-env
.images-env:
	@printf '%s\n' $(IMAGES_ENV)

.PHONY: images  ## Build the web and worker images from cdk.out (runs synth; base image cached)
images: .images-deps .python-deps synth
	@$(IMAGES_ENV) bash containers/base-image.sh $(IMAGES_BASE)
	@$(IMAGES_ENV) $(RUN) python containers/build_images.py --cdk-out $(CDK_OUT) --base $(IMAGES_BASE)

.PHONY: test-images  ## Build the images and run the stack as containers (end-to-end test)
test-images: .images-deps .python-deps
	$(RUN) pytest tests/images/test_containers.py

.PHONY: images-clean  ## Remove the images, containers and layers of make images
images-clean:
	@command -v podman >/dev/null || { echo "podman is not installed: no images to remove"; exit 0; }; \
	$(IMAGES_ENV) podman system reset --force
