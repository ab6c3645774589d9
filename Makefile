# Shortcuts for the two scripts (the README names them).
.PHONY: images test

images:
	bash scripts/images.sh

test:
	bash scripts/test.sh
