"""The lab's alert receiver: Alertmanager's webhook (monitoring_alert_receiver:
webhook in inventories/lab) posts here; each notification is appended as one
JSON line to a file the lab tests read. Started on monitor1 by lab/lab.sh up.

  alert_sink.py ADDRESS PORT FILE
"""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = {"unparsed": body.decode("utf-8", "replace")}
        with open(sys.argv[3], "a") as handle:
            handle.write(json.dumps({"received": time.time(), "path": self.path, "payload": payload}) + "\n")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    HTTPServer((sys.argv[1], int(sys.argv[2])), Sink).serve_forever()
