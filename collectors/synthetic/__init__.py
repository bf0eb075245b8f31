"""The offline corpus: procedurally generated music in nine genres, with artists and manifests.

Run ``python -m collectors corpus`` to write it; see README.md in this folder for the recipes.
"""
