"""The letterhead an administrator sets: logo, sender address, contact, who signs."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import warnings
from dataclasses import dataclass, fields
from typing import Any

from flask_babel import lazy_gettext as _l
from PIL import Image, UnidentifiedImageError

from housing.audit.services import AuditTrail
from housing.db import DbSession
from housing.errors import Forbidden, InvalidInput
from housing.inputs import column_length, too_long
from housing.organisations.models import LOGO_MAX_BYTES, LOGO_MAX_PIXELS, Letterhead, Organisation
from housing.roles import Role
from housing.scoping import Scope

# The first bytes of each accepted logo type and the format Pillow must then find. SVG is
# not taken: it may carry scripts and links, and a PNG or JPEG prints just as well.
LOGO_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "PNG"),
    (b"\xff\xd8\xff", "image/jpeg", "JPEG"),
)
POSTCODE = re.compile(r"[1-9][0-9]{3} ?[A-Z]{2}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE = re.compile(r"\+?[0-9 ()-]{6,30}")
WEBSITE = re.compile(r"(https?://)?[A-Za-z0-9.-]+\.[A-Za-z]{2,}(/\S*)?")
TEXT_FIELDS = (
    "address_line",
    "postcode",
    "city",
    "phone",
    "email",
    "website",
    "signatory_name",
    "signatory_function",
)


@dataclass(frozen=True)
class LetterheadData:
    """What an administrator sets; empty strings leave a part out of the letters."""

    address_line: str = ""
    postcode: str = ""
    city: str = ""
    phone: str = ""
    email: str = ""
    website: str = ""
    signatory_name: str = ""
    signatory_function: str = ""


@dataclass(frozen=True)
class Logo:
    data: bytes
    content_type: str
    width: int
    height: int


def check_logo(data: bytes, field: str = "logo") -> Logo:
    """A PNG or JPEG by its content, decoded in full, within the bounds; else refused."""

    def refuse(message: Any) -> InvalidInput:
        return InvalidInput(message, field_errors={field: [message]})

    if len(data) > LOGO_MAX_BYTES:
        raise refuse(_l("The logo may be at most %(n)d kB.", n=LOGO_MAX_BYTES // 1024))
    sniffed = next(((t, f) for sig, t, f in LOGO_SIGNATURES if data.startswith(sig)), None)
    if sniffed is None:
        raise refuse(_l("The logo must be a PNG or JPEG image."))
    content_type, expected_format = sniffed
    try:
        with warnings.catch_warnings():
            # A decompression bomb is an error here, not a warning to go on after.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                found_format = image.format
                if max(width, height) > LOGO_MAX_PIXELS:
                    raise refuse(
                        _l(
                            "The logo may be at most %(n)d pixels wide and high.",
                            n=LOGO_MAX_PIXELS,
                        )
                    )
                image.verify()  # the chunks' checksums and the file's end (PNG)
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # every pixel decoded: a cut or damaged file fails here
    except InvalidInput:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise refuse(_l("The logo could not be read as an image.")) from None
    if found_format != expected_format:
        raise refuse(_l("The logo could not be read as an image."))
    return Logo(data=data, content_type=content_type, width=width, height=height)


def logo_data_uri(letterhead: Letterhead | None) -> str | None:
    """The logo inline in a letter's HTML: the layout fetches nothing from outside."""
    if letterhead is None or letterhead.logo is None or letterhead.logo_content_type is None:
        return None
    encoded = base64.b64encode(letterhead.logo).decode("ascii")
    return f"data:{letterhead.logo_content_type};base64,{encoded}"


class LetterheadService:
    """Set the letterhead: checked in full before anything is written, and audited."""

    def __init__(self, session: DbSession, audit: AuditTrail | None = None) -> None:
        self.session = session
        self.audit = audit or AuditTrail(session)

    def update(
        self,
        scope: Scope,
        organisation_id: int,
        data: LetterheadData,
        *,
        logo: bytes | None = None,
        remove_logo: bool = False,
    ) -> Letterhead:
        """`logo`: new logo bytes (None or empty keeps the one there is)."""
        if Role.ADMIN not in scope.roles or scope.organisation_id is None:
            raise Forbidden(_l("Only an administrator changes the rules of the organisation."))
        organisation = scope.get_for_update(
            self.session, Organisation, organisation_id, missing=_l("No such organisation.")
        )
        values, errors = _checked(data)
        new_logo: Logo | None = None
        if logo:
            try:
                new_logo = check_logo(logo)
            except InvalidInput as exc:
                errors.update(exc.field_errors)
        if errors:
            raise InvalidInput(next(iter(errors.values()))[0], field_errors=errors)

        letterhead = organisation.letterhead
        if letterhead is None:
            letterhead = Letterhead(organisation_id=organisation.id)
            organisation.letterhead = letterhead
        changes: dict[str, Any] = {}
        for name, value in values.items():
            old = getattr(letterhead, name) or ""
            if old != value:
                changes[name] = {"from": old, "to": value}
                setattr(letterhead, name, value)
        if new_logo is not None:
            changes["logo"] = {
                "sha256": hashlib.sha256(new_logo.data).hexdigest(),
                "content_type": new_logo.content_type,
                "size": [new_logo.width, new_logo.height],
            }
            letterhead.logo = new_logo.data
            letterhead.logo_content_type = new_logo.content_type
        elif remove_logo and letterhead.logo is not None:
            changes["logo"] = None
            letterhead.logo = None
            letterhead.logo_content_type = None
        if changes:
            self.session.flush()
            self.audit.append(
                organisation.id,
                event="update_letterhead",
                actor_id=scope.user_id,
                payload=changes,
            )
        return letterhead


def _checked(data: LetterheadData) -> tuple[dict[str, str], dict[str, list[Any]]]:
    values = {f.name: " ".join(str(getattr(data, f.name) or "").split()) for f in fields(data)}
    values["postcode"] = values["postcode"].upper()
    errors: dict[str, list[Any]] = {}
    for name in TEXT_FIELDS:
        column = getattr(Letterhead, name)
        if len(values[name]) > column_length(column):
            errors.update(too_long(name, column).field_errors)
    formats = {
        "postcode": (POSTCODE, _l("Give a Dutch postcode, such as 1234 AB.")),
        "email": (EMAIL, _l("Give an e-mail address, such as info@example.nl.")),
        "phone": (PHONE, _l("Give a telephone number of digits, spaces and +()-.")),
        "website": (WEBSITE, _l("Give a web address, such as www.example.nl.")),
    }
    for name, (pattern, message) in formats.items():
        if values[name] and name not in errors and not pattern.fullmatch(values[name]):
            errors[name] = [message]
    if values["postcode"] and POSTCODE.fullmatch(values["postcode"]):
        values["postcode"] = f"{values['postcode'][:4]} {values['postcode'][-2:]}"
    # An address is whole or absent: a letter cannot name half of where to send objections.
    address = ("address_line", "postcode", "city")
    if any(values[n] for n in address):
        for name in address:
            if not values[name] and name not in errors:
                errors[name] = [_l("Give the whole address: street or PO box, postcode and city.")]
    if bool(values["signatory_name"]) != bool(values["signatory_function"]):
        missing = "signatory_function" if values["signatory_name"] else "signatory_name"
        errors.setdefault(missing, [_l("Give both the name and the function of who signs.")])
    return values, errors
