# make test   the whole suite: installs and starts the local AWS emulators
#             (scripts/emulators.sh), runs go test -race with integration
#             tests on, and always stops the emulators.
# make unit   the tests without emulators (integration tests skip).
# make demo   the quickstart example.
.PHONY: test unit demo

test:
	bash scripts/test.sh

unit:
	go test -race ./...

demo:
	go run ./examples/quickstart
