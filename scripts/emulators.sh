#!/usr/bin/env bash
# Local AWS emulators for the integration tests (see ../shared/reference/emulators.md beside the repository).
#
#   scripts/emulators.sh install   # pinned packages into .emulators/ (idempotent)
#   scripts/emulators.sh start     # start on 127.0.0.1, wait until each answers (60 s max each)
#   eval "$(scripts/emulators.sh env)"
#   scripts/emulators.sh status
#   scripts/emulators.sh stop      # kill exactly the recorded PIDs
#
# Emulators: fauxqs 1.9.2 (SQS + SNS), kinesis-local 0.6.2 (Kinesis), DynamoDB Local 1.25.1
# (DynamoDB + DynamoDB Streams; jar from amplify-dynamodb-simulator 2.9.30). `install` also
# builds the Lambda Runtime Interface Emulator (not started by this script: tests run it under internal/rietest).
#
# Overrides (environment): EMU_DIR, SQS_PORT (4566), KINESIS_PORT (4568),
# KINESIS_TLS_PORT (4567), DDB_PORT (8000), EMU_TIMEOUT (seconds per emulator, 60).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EMU_DIR="${EMU_DIR:-$ROOT/.emulators}"
RUN_DIR="$EMU_DIR/run"
LOG_DIR="$EMU_DIR/logs"
EMU_TIMEOUT="${EMU_TIMEOUT:-60}"

FAUXQS_VERSION=1.9.2
KINESIS_LOCAL_VERSION=0.6.2
DDB_SIMULATOR_VERSION=2.9.30
DDB_JAR_SHA256=454305e9bc3e6ebcca5b62569869e31563b8d7e346474e94557b2600702146c7 # sha256 of DynamoDBLocal.jar (package/emulator/sha256 holds another digest)
RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d

EMULATORS=(fauxqs kinesis dynamodb)

log() { printf 'emulators: %s\n' "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

# Ports: those recorded by `start` win (so `env` and `status` match what runs), then the
# environment, then the defaults.
load_ports() {
	if [[ -f "$RUN_DIR/ports" ]]; then
		# shellcheck disable=SC1091
		source "$RUN_DIR/ports"
	fi
	SQS_PORT="${SQS_PORT:-4566}"
	KINESIS_PORT="${KINESIS_PORT:-4568}"
	KINESIS_TLS_PORT="${KINESIS_TLS_PORT:-4567}"
	DDB_PORT="${DDB_PORT:-8000}"
}

# ---------------------------------------------------------------- install

# npm_package DIR PACKAGE VERSION: installs PACKAGE@VERSION into DIR unless it is there.
npm_package() {
	local dir="$1" pkg="$2" version="$3" have
	have="$(node -p "require('$dir/node_modules/$pkg/package.json').version" 2>/dev/null || true)"
	if [[ "$have" == "$version" ]]; then
		log "$pkg $version: present"
		return
	fi
	log "$pkg $version: installing"
	mkdir -p "$dir"
	[[ -f "$dir/package.json" ]] || printf '{"private": true}\n' >"$dir/package.json"
	(cd "$dir" && npm install --no-audit --no-fund --loglevel=error --save-exact "$pkg@$version" >&2)
}

install_fauxqs() {
	npm_package "$EMU_DIR/fauxqs" fauxqs "$FAUXQS_VERSION"
	# dist/cli.js forces logger:true and npx leaves the server orphaned when killed, so the
	# server runs from this wrapper: quiet, and its PID is the server's.
	cat >"$EMU_DIR/fauxqs/run-fauxqs.mjs" <<'EOF'
import { startFauxqs } from "fauxqs";
const s = await startFauxqs({ port: parseInt(process.env.FAUXQS_PORT ?? "4566"), logger: false });
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, async () => { await s.stop(); process.exit(0); });
EOF
}

ddb_jar_ok() {
	local jar="$EMU_DIR/dynamodb/package/emulator/DynamoDBLocal.jar"
	[[ -f "$jar" ]] && [[ "$(sha256sum "$jar" | cut -d' ' -f1)" == "$DDB_JAR_SHA256" ]]
}

install_dynamodb() {
	local dir="$EMU_DIR/dynamodb"
	if ddb_jar_ok; then
		log "DynamoDB Local (amplify-dynamodb-simulator $DDB_SIMULATOR_VERSION): present"
		return
	fi
	log "DynamoDB Local (amplify-dynamodb-simulator $DDB_SIMULATOR_VERSION): installing"
	rm -rf "$dir"
	mkdir -p "$dir"
	# npm pack fetches only the tarball (56 MB) instead of the package's 283 dependencies.
	(
		cd "$dir"
		local tgz
		tgz="$(npm pack --silent "amplify-dynamodb-simulator@$DDB_SIMULATOR_VERSION" | tail -n1)"
		tar xzf "$tgz" package/emulator
		rm -f "$tgz"
	)
	ddb_jar_ok || die "DynamoDB Local: DynamoDBLocal.jar missing or its sha256 is not $DDB_JAR_SHA256"
}

install_java() {
	if command -v java >/dev/null 2>&1; then
		return
	fi
	command -v apt-get >/dev/null 2>&1 || die "java not found and apt-get is not available: install a Java 17 runtime"
	log "java not found: installing openjdk-17-jre-headless"
	local sudo=""
	[[ "$(id -u)" == 0 ]] || sudo="sudo"
	$sudo apt-get update >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends openjdk-17-jre-headless >&2
	command -v java >/dev/null 2>&1 || die "java still not found after installing openjdk-17-jre-headless"
}

install_rie() {
	local bin="$EMU_DIR/bin/aws-lambda-rie"
	if [[ -x "$bin" ]]; then
		log "aws-lambda-rie $RIE_VERSION: present"
		return
	fi
	if ! command -v go >/dev/null 2>&1; then
		log "WARNING: go not found; skipping aws-lambda-rie"
		return
	fi
	log "aws-lambda-rie $RIE_VERSION: installing"
	mkdir -p "$EMU_DIR/bin"
	if ! (cd "$EMU_DIR" && GOBIN="$EMU_DIR/bin" GOFLAGS=-buildvcs=false CGO_ENABLED=0 \
		go install "$RIE_MODULE/cmd/aws-lambda-rie@$RIE_VERSION" >&2); then
		log "WARNING: go install of aws-lambda-rie@$RIE_VERSION failed; continuing without it"
	fi
}

cmd_install() {
	command -v node >/dev/null 2>&1 || die "node not found: install Node.js 20 and npm"
	command -v npm >/dev/null 2>&1 || die "npm not found: install npm"
	mkdir -p "$EMU_DIR"
	install_java
	install_fauxqs
	npm_package "$EMU_DIR/kinesis" kinesis-local "$KINESIS_LOCAL_VERSION"
	install_dynamodb
	install_rie
	log "installed into $EMU_DIR"
}

# ---------------------------------------------------------------- processes

pid_file() { echo "$RUN_DIR/$1.pid"; }
log_file() { echo "$LOG_DIR/$1.log"; }

# A marker that must appear in the process's command line, so that a recycled PID is never
# taken for one of ours.
marker() {
	case "$1" in
	fauxqs) echo "run-fauxqs.mjs" ;;
	kinesis) echo "kinesis-local/main.js" ;;
	dynamodb) echo "DynamoDBLocal.jar" ;;
	esac
}

port_of() {
	case "$1" in
	fauxqs) echo "$SQS_PORT" ;;
	kinesis) echo "$KINESIS_PORT" ;;
	dynamodb) echo "$DDB_PORT" ;;
	esac
}

port_var() {
	case "$1" in
	fauxqs) echo "SQS_PORT" ;;
	kinesis) echo "KINESIS_PORT" ;;
	dynamodb) echo "DDB_PORT" ;;
	esac
}

# recorded_pid NAME: prints the recorded PID if that process is alive and is ours.
recorded_pid() {
	local f pid
	f="$(pid_file "$1")"
	[[ -f "$f" ]] || return 1
	pid="$(cat "$f")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	[[ -r "/proc/$pid/cmdline" ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$(marker "$1")" || return 1
	echo "$pid"
}

# healthy NAME: one HTTP probe, bounded in time.
healthy() {
	local port code
	port="$(port_of "$1")"
	case "$1" in
	fauxqs) curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null ;;
	kinesis) curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/healthcheck" 2>/dev/null ;;
	dynamodb)
		# Unsigned GET / answers 400 MissingAuthenticationToken once the server is up.
		code="$(curl -sS --max-time 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null || true)"
		[[ "$code" == 400 || "$code" == 200 ]]
		;;
	esac
}

port_busy() { # port
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

launch() { # name: start one emulator in the background, record its PID
	local name="$1" out pid
	out="$(log_file "$name")"
	: >"$out"
	# `( cd dir && exec server ) &`: the subshell becomes the server, so $! is the server's PID.
	case "$name" in
	fauxqs)
		(
			cd "$EMU_DIR/fauxqs"
			export FAUXQS_PORT="$SQS_PORT" FAUXQS_LOGGER=false FAUXQS_DEFAULT_REGION=us-east-1
			exec node run-fauxqs.mjs
		) </dev/null >>"$out" 2>&1 &
		;;
	kinesis)
		(
			cd "$EMU_DIR/kinesis"
			export KINESIS_MOCK_PLAIN_PORT="$KINESIS_PORT" KINESIS_MOCK_TLS_PORT="$KINESIS_TLS_PORT" \
				KINESIS_MOCK_CERT_PATH="$EMU_DIR/kinesis/node_modules/kinesis-local/server.json" \
				LOG_LEVEL=WARN AWS_REGION=us-east-1 \
				CREATE_STREAM_DURATION=50ms SPLIT_SHARD_DURATION=50ms MERGE_SHARDS_DURATION=50ms \
				UPDATE_SHARD_COUNT_DURATION=50ms REGISTER_STREAM_CONSUMER_DURATION=50ms \
				DEREGISTER_STREAM_CONSUMER_DURATION=50ms DELETE_STREAM_DURATION=50ms \
				START_STREAM_ENCRYPTION_DURATION=50ms STOP_STREAM_ENCRYPTION_DURATION=50ms UPDATE_STREAM_MODE_DURATION=50ms
			exec node node_modules/kinesis-local/main.js
		) </dev/null >>"$out" 2>&1 &
		;;
	dynamodb)
		(
			cd "$EMU_DIR/dynamodb/package/emulator"
			exec java -Xmx512m -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
				-inMemory -sharedDb -disableTelemetry -port "$DDB_PORT"
		) </dev/null >>"$out" 2>&1 &
		;;
	esac
	pid=$!
	echo "$pid" >"$(pid_file "$name")"
	log "$name: started (pid $pid, port $(port_of "$name"), log $out)"
}

fail_start() { # name reason
	local name="$1" reason="$2"
	log "ERROR: $name $reason"
	log "---- last 40 lines of $(log_file "$name") ----"
	tail -n 40 "$(log_file "$name")" >&2 || true
	log "---- end of $name log ----"
	cmd_stop
	exit 1
}

wait_ready() { # name
	local name="$1" deadline pid
	deadline=$((SECONDS + EMU_TIMEOUT))
	while :; do
		if ! pid="$(recorded_pid "$name")"; then
			fail_start "$name" "exited before it answered on 127.0.0.1:$(port_of "$name")"
		fi
		if healthy "$name"; then
			log "$name: ready on 127.0.0.1:$(port_of "$name") (pid $pid)"
			return
		fi
		if ((SECONDS >= deadline)); then
			fail_start "$name" "did not answer on 127.0.0.1:$(port_of "$name") within ${EMU_TIMEOUT}s"
		fi
		sleep 0.2
	done
}

cmd_start() {
	mkdir -p "$RUN_DIR" "$LOG_DIR"
	load_ports
	local name to_start=()
	[[ -x "$(command -v java)" ]] || die "java not found: run '$0 install'"
	[[ -f "$EMU_DIR/fauxqs/run-fauxqs.mjs" && -f "$EMU_DIR/kinesis/node_modules/kinesis-local/main.js" ]] ||
		die "emulators not installed: run '$0 install'"
	ddb_jar_ok || die "DynamoDB Local not installed: run '$0 install'"
	for name in "${EMULATORS[@]}"; do
		if recorded_pid "$name" >/dev/null; then
			log "$name: already running (pid $(recorded_pid "$name"))"
			continue
		fi
		rm -f "$(pid_file "$name")"
		if port_busy "$(port_of "$name")"; then
			die "$name: port $(port_of "$name") on 127.0.0.1 is already in use by another process; set $(port_var "$name") to a free port"
		fi
		if [[ "$name" == kinesis ]] && port_busy "$KINESIS_TLS_PORT"; then
			die "kinesis: TLS port $KINESIS_TLS_PORT on 127.0.0.1 is already in use by another process; set KINESIS_TLS_PORT to a free port"
		fi
		to_start+=("$name")
	done
	cat >"$RUN_DIR/ports" <<EOF
SQS_PORT=$SQS_PORT
KINESIS_PORT=$KINESIS_PORT
KINESIS_TLS_PORT=$KINESIS_TLS_PORT
DDB_PORT=$DDB_PORT
EOF
	for name in "${to_start[@]}"; do
		launch "$name"
	done
	for name in "${EMULATORS[@]}"; do
		wait_ready "$name"
	done
}

cmd_stop() {
	local name pid f i
	for name in "${EMULATORS[@]}"; do
		f="$(pid_file "$name")"
		[[ -f "$f" ]] || continue
		if pid="$(recorded_pid "$name")"; then
			kill -TERM "$pid" 2>/dev/null || true
			for ((i = 0; i < 50; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			if kill -0 "$pid" 2>/dev/null; then
				log "$name: still running 5s after SIGTERM; sending SIGKILL"
				kill -KILL "$pid" 2>/dev/null || true
			fi
			log "$name: stopped (pid $pid)"
		fi
		rm -f "$f"
	done
	rm -f "$RUN_DIR/ports"
}

cmd_status() {
	load_ports
	local name pid rc=0
	for name in "${EMULATORS[@]}"; do
		if pid="$(recorded_pid "$name")"; then
			if healthy "$name"; then
				echo "$name: running (pid $pid) on 127.0.0.1:$(port_of "$name")"
			else
				echo "$name: running (pid $pid) but not answering on 127.0.0.1:$(port_of "$name")"
				rc=1
			fi
		else
			echo "$name: stopped"
			rc=1
		fi
	done
	if [[ -x "$EMU_DIR/bin/aws-lambda-rie" ]]; then
		echo "aws-lambda-rie: installed at $EMU_DIR/bin/aws-lambda-rie (not started)"
	else
		echo "aws-lambda-rie: not installed"
	fi
	return "$rc"
}

cmd_env() {
	load_ports
	cat <<EOF
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$SQS_PORT
export AWS_ENDPOINT_URL_SNS=http://127.0.0.1:$SQS_PORT
export AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:$KINESIS_PORT
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DDB_PORT
export AWS_ENDPOINT_URL_DYNAMODB_STREAMS=http://127.0.0.1:$DDB_PORT
export ESM_INTEGRATION=1
EOF
}

usage() {
	echo "usage: $0 install|start|stop|env|status" >&2
	exit 2
}

[[ $# -eq 1 ]] || usage
case "$1" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
env) cmd_env ;;
status) cmd_status ;;
*) usage ;;
esac
