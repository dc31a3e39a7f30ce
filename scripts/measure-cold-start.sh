#!/usr/bin/env bash
# Cold start: from starting the published Release node to /health/ready answering 200, with the bundled models.
#   scripts/measure-cold-start.sh                        # publishes to a temp folder, then 5 runs; prints each and the median
#   RUNS=9 PUBLISHED=/tmp/pub scripts/measure-cold-start.sh    # reuses a published node (dotnet publish src/Hub -c Release -o DIR)
#   scripts/measure-cold-start.sh -- --Storage:File:Path=/tmp/journal   # more switches for the node (here: a journal to restore)
# Each run starts the node on a free loopback port with the simulated market (no network) and, unless a switch names
# one, an empty journal of its own; polls /health/ready every 5 ms; kills the node once it answers 200. ONCE=1 makes one
# run and exits with the node's time, so a timer of whole processes can time it too (/usr/bin/time -v ...).
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
if [ "${1:-}" = "--" ]; then shift; fi

if [ -z "${PUBLISHED:-}" ]; then
  PUBLISHED=$(mktemp -d /tmp/signalstream-coldstart.XXXXXX)
  echo "publishing to $PUBLISHED ..." >&2
  dotnet publish src/Hub -c Release -o "$PUBLISHED" -nologo -v q >&2
fi

[ -n "${ONCE:-}" ] && RUNS=1
exec python3 - "$PUBLISHED/SignalStream.Hub" "$RUNS" "$@" <<'PY'
import http.client, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

executable, runs, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
TIMEOUT_S = 60

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def ready(port):
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        connection.request("GET", "/health/ready")
        status = connection.getresponse().status
        connection.close()
        return status == 200
    except OSError:
        return False

def one_run():
    port = free_port()
    data = tempfile.mkdtemp(prefix="signalstream-coldstart-data.")
    log = open(os.path.join(data, "node.log"), "w")
    args = [executable, f"--urls=http://127.0.0.1:{port}", "--Ingest:Source=simulated", f"--Storage:File:Path={data}/journal", *extra]
    start = time.monotonic()
    node = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=data)
    try:
        while not ready(port):
            if node.poll() is not None:
                sys.exit(f"the node exited with {node.returncode} before it was ready; its log: {log.name}")
            if time.monotonic() - start > TIMEOUT_S:
                sys.exit(f"not ready after {TIMEOUT_S} s; the node's log: {log.name}")
            time.sleep(0.005)
        elapsed = time.monotonic() - start
    finally:
        node.send_signal(signal.SIGKILL)
        node.wait()
        log.close()
    shutil.rmtree(data, ignore_errors=True)
    return elapsed * 1000

times = []
for i in range(runs):
    ms = one_run()
    times.append(ms)
    print(f"run {i + 1}: {ms:.0f} ms to /health/ready", flush=True)
if runs > 1:
    print(f"median {statistics.median(times):.0f} ms (min {min(times):.0f}, max {max(times):.0f}, {runs} runs)")
PY
