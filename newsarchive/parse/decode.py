"""Bytes to text: HTTP charset, BOM, <meta charset>, then detection. Never raises on bad bytes."""

from __future__ import annotations

import codecs
import re

import charset_normalizer
import webencodings

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
#: The BOM is stripped before decoding, so each codec names its byte order: "utf-16" without its BOM
#: is read little-endian, and a UTF-16BE page came out as CJK garbage.
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


_SIGNATURES = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"\x00\x00\x00\x18ftyp", "a video"),
    (b"\x00\x00\x00\x20ftyp", "a video"),
    (b"\x1aE\xdf\xa3", "a video"),
    (b"ID3", "an MP3 file"),
    (b"%!PS", "a PostScript document"),
)


def sniff_binary(body: bytes) -> str | None:
    """What a body plainly is when it is not text: 'a PDF document', 'a PNG image'...; None for text."""
    head = body[:16]
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return kind
    if head.startswith(b"RIFF") and body[8:12] == b"WEBP":
        return "a WebP image"
    stripped = body.lstrip()[:1]
    if stripped in (b"{", b"[") and b"<" not in body[:512]:
        return "JSON"
    return None


_CHAR_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));?")


def _drop_control_ref(m: re.Match[str]) -> str:
    code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
    if code in (9, 10, 13) or 0x20 <= code < 0x7F or code > 0x9F:
        return m.group(0)
    return ""


def drop_control_refs(html: str) -> str:
    """Remove character references to control characters (``&#7;``, ``&#x1b;``).

    libxml2 drops the rest of a text node after one, so a single ``&#7;`` in a
    paragraph would cost the article its body; and they must not reach a terminal.
    """
    return _CHAR_REF.sub(_drop_control_ref, html) if "&#" in html else html


#: WHATWG encodings with no Python text codec of their own: a page labelled so is decoded by detection.
_UNHONOURED = frozenset({"replacement", "x-user-defined"})


def _known(label: str | None) -> str | None:
    """The Python codec of a WHATWG encoding label (``latin1`` -> ``cp1252``); None for any other label.

    Only the labels of the WHATWG Encoding Standard are honoured, as browsers do: Python's own
    registry also knows ``rot13``, ``base64``, ``zip``, ``hex`` (bytes-to-bytes codecs that crash or
    garble a decode) and aliases no browser accepts, and ``undefined`` raises on every byte.
    """
    if not label:
        return None
    encoding = webencodings.lookup(label)
    if encoding is None or encoding.name in _UNHONOURED:
        return None
    try:
        return codecs.lookup(encoding.codec_info.name).name
    except LookupError:  # pragma: no cover - every WHATWG encoding but the two above has a Python codec
        return None


def whatwg_codec(label: str | None) -> str | None:
    """The Python codec of a WHATWG encoding label; None for a label no browser honours (``undefined``...)."""
    return _known(label)


def declared_charset(content_type: str | None) -> str | None:
    """The charset label a Content-Type header names, as written (honoured or not)."""
    m = _HEADER_CHARSET.search(content_type or "")
    return m.group(1) if m else None


def charset_from_content_type(content_type: str | None) -> str | None:
    """The Python codec of the charset a Content-Type header names, if it is a WHATWG label."""
    if not content_type:
        return None
    m = _HEADER_CHARSET.search(content_type)
    return _known(m.group(1)) if m else None


def decode_html(body: bytes | str, content_type: str | None = None) -> str:
    """Decode an HTML page as a browser would, replacing what cannot be decoded.

    Order: byte-order mark; then UTF-8 when the bytes hold non-ASCII text that is valid
    UTF-8 (no legacy page is that by chance, whatever its label says); then a declared
    charset (HTTP header, then <meta>) that actually decodes the bytes; then statistical
    detection. A declared charset that fails to decode is distrusted rather than forced; one that
    is no WHATWG encoding label (``undefined``, ``rot13``, ``base64``) is ignored.
    """
    if isinstance(body, str):
        return body.replace("\x00", "")
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(bom_codec, errors="replace").replace("\x00", "")
    if not body.isascii():
        try:
            return body.decode("utf-8").replace("\x00", "")
        except UnicodeDecodeError:
            pass
    declared: list[str | None] = [charset_from_content_type(content_type)]
    m = _META_CHARSET.search(body[:4096])
    if m:
        declared.append(_known(m.group(1).decode("ascii", "replace")))
    for name in declared:
        if not name:
            continue
        if name == "cp1252":  # what WHATWG makes of latin-1, iso-8859-1, ascii and windows-1252
            # Browsers treat these labels as windows-1252; and a page labelled latin-1
            # that is really UTF-8 is the commonest mislabel on the web.
            try:
                return body.decode("utf-8").replace("\x00", "")
            except UnicodeDecodeError:
                return body.decode("cp1252", errors="replace").replace("\x00", "")
        try:
            return body.decode(name).replace("\x00", "")
        except (UnicodeDecodeError, LookupError):
            continue
    try:
        return body.decode("utf-8").replace("\x00", "")
    except UnicodeDecodeError:
        pass
    encoding = _detect(body[:200_000])
    return body.decode(encoding, errors="replace").replace("\x00", "")


def _detect(sample: bytes) -> str:
    """Statistical detection, preferring web encodings: pages are not in Mac code pages.

    charset_normalizer ranks mac_cyrillic above cp1251 on short Russian text, and cp1257
    above cp1252 on French, with equal chaos; a browser would say windows-1251 and -1252.
    """
    matches = list(charset_normalizer.from_bytes(sample))
    if not matches:
        return "utf-8"
    best = matches[0]
    ties = [str(m.encoding) for m in matches if m.chaos <= best.chaos + 0.01]
    if "cp1252" in ties:
        return "cp1252"  # the web's commonest legacy encoding (WHATWG's default for most locales)
    for name in ties:
        if not name.startswith("mac_"):
            return name
    return str(best.encoding)
