"""Serving the dashboard to other people: text from files shown as text, typed paths confined
to the operator's data roots, and each session's uploads kept to itself (see SECURITY.md).

The decisions live in :mod:`roots` and :mod:`uploads`; this module holds the wording and the
Streamlit wiring: the server-wide upload store and each session's uploads in its
session state, so Streamlit dropping a finished session deletes its files.
"""

from __future__ import annotations

import os
import re
import threading

import streamlit as st
from roots import DataRoots, configured_roots, is_loopback
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx
from uploads import UPLOAD_TTL_S, SessionUploads, UploadStore

# every ASCII punctuation character may be backslash-escaped in CommonMark; escaping all of
# them means no link, image, autolink, HTML, emphasis, code, heading, table, LaTeX ($) or
# Streamlit directive (:red[...]) can form from the text
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")

OUTSIDE_ROOTS = ("This path is not one this dashboard may read: typed paths must be inside the "
                 "data folders its operator configured (RBT_DATA_ROOTS; see SECURITY.md). "
                 "Upload a recording instead, or ask the operator to add the folder.")
NO_ROOTS = ("Typed paths are off on this server (it listens on a network address and no data "
            "folders are configured): upload a recording, or use the demo data and the "
            "shipped checkpoint.")
NO_ROOTS_PLACEHOLDER = "off on this server: see below"


# GFM's autolink literals (http://..., www...., a@b.c) are found in the text after escapes are
# resolved, so escaping cannot stop them; an invisible word joiner (U+2060) inside the pattern
# does, and the text still reads the same
_AUTOLINK = re.compile(r"(?i)(:)(?=//)|(www)(?=\.)|(@)")
WORD_JOINER = "\u2060"


def plain(text) -> str:
    """``text`` as Markdown that shows these characters and nothing else: no link, image,
    markup or formatting can form (for anything from a file or a user: names, descriptions,
    metadata, error messages)."""
    text = _AUTOLINK.sub(lambda m: m.group(0) + WORD_JOINER, str(text))
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


# --------------------------------------------------------------------------------------------
# the server's uploads and roots

_STORES: dict = {}
_STORES_LOCK = threading.Lock()


def _upload_settings() -> tuple[str | None, float]:
    """(parent folder of the uploads root, TTL in seconds) from RBT_UPLOAD_DIR and
    RBT_UPLOAD_TTL."""
    try:
        ttl = float(os.environ.get("RBT_UPLOAD_TTL") or UPLOAD_TTL_S)
    except ValueError:
        ttl = UPLOAD_TTL_S
    return os.environ.get("RBT_UPLOAD_DIR") or None, ttl if ttl > 0 else UPLOAD_TTL_S


def upload_store() -> UploadStore:
    """The server's upload store (one per setting, made on first use)."""
    settings = _upload_settings()
    with _STORES_LOCK:
        if settings not in _STORES:
            _STORES[settings] = UploadStore(*settings)
        return _STORES[settings]


def session_ended(session_id: str) -> bool:
    """Has Streamlit let go of this session (closed, or disconnected past
    ``server.disconnectedSessionTTL``)? False where no server runs (AppTest)."""
    if not Runtime.exists():
        return False
    # Streamlit has no public call for "is this session still stored": its session manager
    # knows (active sessions, then the disconnected ones kept for a reconnect)
    manager = getattr(Runtime.instance(), "_session_mgr", None)
    if manager is None or not hasattr(manager, "get_session_info"):
        return False
    try:  # read from a script thread while the server's thread may change it
        return manager.get_session_info(session_id) is None
    except (KeyError, RuntimeError):  # changed meanwhile: ask again at the next run
        return False


def _this_session_id() -> str | None:
    ctx = get_script_run_ctx()
    return None if ctx is None else ctx.session_id


def tidy_uploads() -> None:
    """At every run of any session: delete the folders of sessions Streamlit has let go, and
    (at most once a minute) those idle past the TTL."""
    store = upload_store()
    store.remove_ended(session_ended)
    store.sweep(every=60)


def session_uploads() -> SessionUploads:
    """This session's uploads, kept in its session state (its folder is also deleted when
    the state is collected; :func:`tidy_uploads` deletes it once the session has ended)."""
    store = upload_store()
    uploads = st.session_state.get("_uploads")
    if uploads is None or uploads.store is not store:
        uploads = st.session_state["_uploads"] = store.session(_this_session_id())
    return uploads


def redact(text) -> str:
    """``text`` without the server folders of uploads (a message names the uploaded file)."""
    text = str(text)
    uploads = st.session_state.get("_uploads")
    if uploads is not None:
        if uploads.main is not None:
            text = text.replace(str(uploads.main.parent) + os.sep, "")
        text = text.replace(str(uploads.store.root), "<uploads>")
    return text


def plain_message(text) -> str:
    """A message from rbt or a file as safe Markdown: upload folders left out, then escaped."""
    return plain(redact(text))


def roots() -> DataRoots:
    """Where typed paths may point, for the address this server listens on; never into the
    uploads of any session."""
    return configured_roots(st.get_option("server.address"),
                                 never=[upload_store().root])


def typed_path(sb, label: str, key: str, placeholder: str = "", help: str | None = None):
    """A path field confined to the data roots; the real path, or None (after saying why)."""
    allowed = roots()
    if allowed.none:
        sb.text_input(label, key=key, disabled=True, placeholder=NO_ROOTS_PLACEHOLDER)
        sb.caption(NO_ROOTS)
        return None
    if not allowed.any_path:
        where = plain(", ".join(str(f) for f in allowed.folders))
        help = f"{help + ' ' if help else ''}Paths must be inside: {where}."
    text = sb.text_input(label, key=key, placeholder=placeholder, help=help).strip()
    if not text:
        return None
    real = allowed.confine(text)
    if real is None:
        sb.error(OUTSIDE_ROOTS)
        return None
    return str(real)


def network_notice(sb) -> None:
    """Say, once per page, what a dashboard on a network address exposes to its visitors."""
    if is_loopback(st.get_option("server.address")):
        return
    allowed = roots()
    reads = ("no typed paths" if allowed.none else "any path on the server" if allowed.any_path
             else "the folders " + ", ".join(str(f) for f in allowed.folders))
    sb.caption(plain(f"Served on a network address: whoever can reach this page can upload "
                     f"recordings and read {reads}. See SECURITY.md."))
