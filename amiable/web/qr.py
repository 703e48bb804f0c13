"""The enrolment QR code, drawn on the server: the strict CSP allows no script to draw it in the page, and
an <img> with a data: URI keeps the SVG's own markup out of the page's style rules."""

import base64
from base64 import b32encode

import qrcode
from qrcode.image.svg import SvgPathImage


def qr_svg_data_uri(text: str) -> str:
    svg = qrcode.make(text, image_factory=SvgPathImage, box_size=10, border=4).to_string(encoding="unicode")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


def secret_for_humans(bin_key: bytes) -> str:
    """The TOTP secret in base32, in groups of four, for typing into an app by hand."""
    secret = b32encode(bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
