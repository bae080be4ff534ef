"""Stand-in for the AI service in the container tests: loads /tmp/keys/signing_key.pem with
`cryptography` (as the service does), then serves GET /health on 8000 with what the service
process is and has: ids, the capability lines of /proc/self/status, the public half of the key
it loaded (never the private bytes), whether the key variable is still in its environment and
which directories it can write. SIGTERM ends it with $STANDIN_TERM_EXIT."""
import http.server
import json
import os
import signal
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KEY = "/tmp/keys/signing_key.pem"

with open(KEY, "rb") as f:
    key = serialization.load_pem_private_key(f.read(), password=None)
if not isinstance(key, Ed25519PrivateKey):
    sys.exit("ai-service: %s is not an Ed25519 key" % KEY)
PUBLIC = key.public_key().public_bytes(serialization.Encoding.Raw,
                                       serialization.PublicFormat.Raw).hex()


def writable(d):
    probe = os.path.join(d, ".probe")
    try:
        with open(probe, "w"):
            pass
        os.unlink(probe)
        return True
    except OSError:
        return False


def state():
    status = {}
    with open("/proc/self/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name.startswith("Cap") or name in ("NoNewPrivs", "Groups"):
                status[name] = value.strip()
    return {"status": "ok", "uid": os.getuid(), "gid": os.getgid(), "proc": status,
            "public_key": PUBLIC, "key_env": "AI_SIGNING_KEY_CONTENT" in os.environ,
            "writable": {d: writable(d) for d in ("/app/data", "/app/logs", "/tmp/keys")}}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/health":
            self.send_error(404)
            return
        body = json.dumps(state()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def on_term(signum, frame):
    print("ai-service: SIGTERM", flush=True)
    sys.exit(int(os.environ.get("STANDIN_TERM_EXIT", "0")))


signal.signal(signal.SIGTERM, on_term)
server = http.server.HTTPServer(("0.0.0.0", 8000), Handler)
print("ai-service: serving on 8000 as uid %d" % os.getuid(), flush=True)
server.serve_forever()
