# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One helper for rewriting a host's file in place."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os


def write_atomic(module, path, text):
    """Replace an existing file's content atomically, keeping its mode and owner."""
    st = os.stat(path)
    tmp = path + ".pgha.tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.chmod(tmp, st.st_mode & 0o7777)
    os.chown(tmp, st.st_uid, st.st_gid)
    module.atomic_move(tmp, path)
