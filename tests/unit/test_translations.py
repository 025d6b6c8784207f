"""The Polish catalog is complete and current: every text the code and the templates can show has a
Polish translation with the same placeholders, and the compiled .mo the portal reads holds exactly
what the .po says. A text added without its translation fails here."""

from __future__ import annotations

import os
import re

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from portal.i18n import CATALOGS
from portal.settings import PROJECT_ROOT

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "lazy_gettext": None}
"""As `make messages` extracts them (the Makefile's KEYWORDS)."""
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sdf]|%[sd]|%%")
PO = CATALOGS / "pl" / "LC_MESSAGES" / "messages.po"
MO = CATALOGS / "pl" / "LC_MESSAGES" / "messages.mo"


def _not_hidden(path: str) -> bool:
    """As `make messages` (`--ignore-dirs ".*"`): Babel's own filter would also skip `_partials`."""
    return not os.path.basename(path).startswith(".")


def _source_messages() -> dict[str, tuple[str, ...]]:
    with (CATALOGS / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict[str, tuple[str, ...]] = {}
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        PROJECT_ROOT, method_map, options_map, keywords=KEYWORDS, directory_filter=_not_hidden
    ):
        ids = message if isinstance(message, tuple) else (message,)
        if ids[0]:
            found[ids[0]] = ids
    return found


@pytest.fixture(scope="module")
def polish() -> Catalog:
    with PO.open("rb") as po:
        return read_po(po, locale="pl")


def test_every_message_has_a_polish_translation(polish: Catalog) -> None:
    source = _source_messages()
    assert len(source) > 1000  # the extraction really read the code and the templates
    missing = []
    for key, ids in source.items():
        entry = polish.get(key)
        strings = () if entry is None else entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if entry is None or entry.fuzzy or not all(strings) or (len(ids) > 1 and len(strings) != 3):
            missing.append(key)
    assert not missing, (
        f"{len(missing)} texts have no Polish translation; run `make messages`, translate, then `make compile-messages`: {missing[:20]}"
    )


def test_translations_keep_the_placeholders(polish: Catalog) -> None:
    wrong = []
    for entry in polish:
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        named = {p for source in ids for p in PLACEHOLDER.findall(source)}
        for text in strings:
            if not text:
                continue
            used = set(PLACEHOLDER.findall(text))
            if not used <= named or (len(ids) == 1 and used != named):
                wrong.append((ids[0], text))
    assert not wrong, wrong[:10]


def test_the_compiled_catalog_is_the_translated_one(polish: Catalog) -> None:
    with MO.open("rb") as mo:
        compiled = read_mo(mo)

    def texts(catalog: Catalog) -> dict[object, object]:
        return {
            (tuple(entry.id) if isinstance(entry.id, (list, tuple)) else entry.id): tuple(entry.string)
            if isinstance(entry.string, (list, tuple))
            else entry.string
            for entry in catalog
            if entry.id and not entry.fuzzy and entry.string
        }

    assert texts(compiled) == texts(polish), "messages.mo is older than messages.po: run `make compile-messages`"
