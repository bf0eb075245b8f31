"""Import audio you already have: folders, embedded tags, your own CSV list, FMA and GTZAN.

``walk`` (find the files), ``tags`` (mutagen), ``layouts`` (what folder names say), ``listing``
(the ``--csv`` list), ``fma`` and ``gtzan`` (the two datasets' metadata), ``task`` (one file's
conversion in a worker), ``importer`` (the resumable stage), ``cmd`` (``import-audio``).
See README.md beside this file.
"""
