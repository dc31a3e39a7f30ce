"""A real SMTP server for the email sink's tests: Debian's aiosmtpd with STARTTLS required and AUTH required after it.

Usage: python3 smtp_server.py --port P --out DIR [--cert PEM --key PEM] [--user U --password W]
Each message the server accepts is written to DIR/<n>.eml (envelope sender and recipients in X-Envelope-* lines, then
the message as received). Prints READY once listening; stops when its standard input closes.
"""
import argparse
import pathlib
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Saver:
    def __init__(self, out):
        self.out = pathlib.Path(out)
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        head = "X-Envelope-From: %s\r\nX-Envelope-To: %s\r\nX-Authenticated-As: %s\r\nX-TLS: %s\r\n" % (
            envelope.mail_from,
            ",".join(envelope.rcpt_tos),
            session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else "",
            "yes" if session.ssl else "no",
        )
        tmp = self.out / ("%d.tmp" % n)
        tmp.write_bytes(head.encode() + envelope.original_content)
        tmp.rename(self.out / ("%d.eml" % n))
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()

    kwargs = {}
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        kwargs.update(tls_context=context, require_starttls=True)
    if args.user:
        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login == args.user.encode() and auth_data.password == args.password.encode()
            # handled=False: aiosmtpd then answers a failure with 535 itself (its default, handled=True, answers nothing).
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
        kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=True)

    controller = Controller(Saver(args.out), hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    print("READY", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
