"""A supervisor event listener written against the protocol alone (it does not
import the supervisor package, so any python3 runs it).

Each event is appended to events.txt next to this script, one line per event:
the header line, a tab, then the payload with newlines written as \\n. Every
event is acknowledged with RESULT 2\\nOK.
"""
import os
import sys


def main():
    out_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "events.txt")
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        stdout.write(b"READY\n")
        stdout.flush()
        line = stdin.readline()
        if not line:
            return
        headers = dict(token.split(b":", 1) for token in line.split())
        payload = stdin.read(int(headers[b"len"]))
        with open(out_path, "ab") as f:
            f.write(line.rstrip(b"\n") + b"\t" + payload.replace(b"\n", b"\\n") + b"\n")
        stdout.write(b"RESULT 2\nOK")
        stdout.flush()


if __name__ == "__main__":
    main()
