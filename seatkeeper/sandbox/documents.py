"""The invoice statement as a PDF, written by hand (no library): one or more A4 pages of text.

PDF 1.4 with the standard Helvetica font (no embedding), WinAnsi encoding, one content stream
per page and a correct cross-reference table, so any reader opens it. Enough for a sandbox:
the platform only stores the bytes and serves them back to the people allowed to see them.
"""

from __future__ import annotations

from collections.abc import Sequence

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
MARGIN = 56
LINE = 14
LINES_PER_PAGE = (PAGE_HEIGHT - 2 * MARGIN) // LINE


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _page_stream(lines: Sequence[tuple[str, int]]) -> bytes:
    """`lines`: (text, font size); drawn top-down from the top margin."""
    out = [b"BT", b"/F1 10 Tf", f"{MARGIN} {PAGE_HEIGHT - MARGIN} Td".encode()]
    first = True
    for text, size in lines:
        if not first:
            out.append(f"0 -{LINE} Td".encode())
        first = False
        out.append(f"/F1 {size} Tf".encode())
        out.append(b"(" + _escape(text) + b") Tj")
    out.append(b"ET")
    return b"\n".join(out)


def text_pdf(lines: Sequence[tuple[str, int]], *, title: str) -> bytes:
    """A PDF of `lines` (text, font size), as many pages as they need."""
    pages = [lines[i : i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)] or [[]]
    # Objects: 1 catalog, 2 page tree, 3 font, 4 info, then a page and its content per page.
    objects: list[bytes] = [b"", b"", b"", b""]
    page_ids = []
    for page in pages:
        stream = _page_stream(page)
        content_id = len(objects) + 2
        page_ids.append(len(objects) + 1)
        objects.append(
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
                f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content_id} 0 R >>"
            ).encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    kids = " ".join(f"{number} 0 R" for number in page_ids)
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode()
    objects[2] = (
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    objects[3] = b"<< /Title (" + _escape(title) + b") /Producer (Seatkeeper sandbox) >>"
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 4 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)
